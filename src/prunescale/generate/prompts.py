"""The built-in prompts, one set for every in-process generator that needs prompts of its own (no data set, offline).

A prompt's place in the set says what it is for, so the generators never share one: ``--calibration traces``
draws from :data:`TRACE_PROMPTS`, the fragility predictors score the parent on :data:`HELD_OUT_PROMPTS`
(word problems no calibration saw, so a method calibrated on its traces is not scored on its own data), and
``--calibration self`` samples from :data:`OPEN_PROMPTS` (varied registers: narrative, maths, code, facts).
The embedded organism gets chain problems instead (``organism.problems``). Changing a prompt changes the
texts these generators make (and the chosen layers); ``prune.trace_calibration.FORMAT`` keys the trace cache.
"""

from __future__ import annotations

PROMPTS: tuple[str, ...] = (
    # short multi-step word problems: thinking traces for calibration
    'A shop sells pencils at 3 for $1. How much do 27 pencils cost? Think step by step.',
    'Tom has 48 marbles. He gives a quarter to Ann and a third of the rest to Ben. How many are left?',
    'A train leaves at 9:40 and arrives at 13:15. How long is the trip in minutes?',
    'The sum of three consecutive integers is 96. What is the largest of them?',
    'A rectangle is 4 cm longer than it is wide and its perimeter is 44 cm. What is its area?',
    'What is 17% of 340? Show your reasoning.',
    'If 5 workers build a wall in 12 days, how many days do 8 workers need at the same rate?',
    'A bag has 5 red and 7 blue balls. Two are drawn without replacement. What is the chance both are red?',
    'Solve for x: 3(x - 4) + 2 = 5x - 18.',
    'A car uses 6.5 litres per 100 km. How many litres does it use for 260 km?',
    'How many integers from 1 to 200 are divisible by 3 or by 5?',
    'A price rises by 20% and then falls by 20%. What is the overall change in percent?',
    'The average of five numbers is 14. Four of them are 10, 12, 15 and 20. What is the fifth?',
    'A tank fills in 6 hours with pipe A and in 9 hours with pipe B. How long with both pipes open?',
    'What is the remainder when 2^20 is divided by 7?',
    'Lisa reads 18 pages a day. Her book has 400 pages. On which day does she finish it?',
    'Find two numbers whose sum is 50 and whose difference is 14.',
    'A recipe needs 250 g of flour for 4 people. How much flour for 10 people?',
    'What is the least common multiple of 12, 18 and 30?',
    'A cyclist rides 15 km at 20 km/h and 15 km at 30 km/h. What is her average speed?',
    'How many diagonals does a convex octagon have?',
    'A number doubled and then increased by 7 gives 61. What is the number?',
    'Three friends split a bill of $84 in the ratio 2:3:2. How much does each pay?',
    'What is the sum of the first 30 odd numbers?',
    # word problems held out from calibration: what the fragility predictors score
    'A baker makes 24 rolls and sells 17. How many rolls are left? Think step by step.',
    'What is 15% of 80? Show your work.',
    'A train travels 180 km in 3 hours. What is its average speed in km per hour?',
    'Tom has 3 boxes with 12 pencils each. He gives away 9 pencils. How many does he have now?',
    'Solve for x: 3x + 7 = 22. Explain each step.',
    'A rectangle is 8 cm long and 5 cm wide. What is its area and its perimeter?',
    'If a shirt costs $40 and is on sale for 25% off, what is the sale price?',
    'What is the sum of the first 10 positive integers? Explain how you got it.',
    'A recipe needs 2 cups of flour for 12 cookies. How much flour is needed for 30 cookies?',
    'Sara reads 18 pages a day. How many days does she need for a 126-page book?',
    'What is 7 times 8, minus 19, divided by 37?',
    'A car uses 6 liters of fuel per 100 km. How much fuel does it need for 250 km?',
    # varied registers: the model's own free text (self calibration)
    'Tell me a short story about a lighthouse keeper.',
    'Explain how photosynthesis works.',
    'Solve step by step: a train travels 60 km in 45 minutes. What is its speed in km/h?',
    'Write a Python function that checks whether a number is prime.',
    'What causes the seasons on Earth?',
    'Describe the water cycle to a ten-year-old.',
    'Prove that the sum of two even numbers is even.',
    'Summarise the causes of the French Revolution.',
    'How does a hash table work?',
    'Give three tips for writing a clear scientific paper.',
    'If 3x + 5 = 20, what is x? Show your reasoning.',
    'Why is the sky blue?',
    'Compare mitosis and meiosis.',
    'What is the derivative of x^3 sin(x)? Explain each step.',
    'Write a haiku about autumn rain.',
    'Explain the difference between a list and a tuple in Python.',
)

TRACE_PROMPTS = PROMPTS[:24]
HELD_OUT_PROMPTS = PROMPTS[24:36]
OPEN_PROMPTS = PROMPTS[36:]
