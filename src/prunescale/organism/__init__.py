"""The embedded reasoning organism: a tiny Llama trained from scratch here, in which test-time scaling is real.

* :func:`chain_problems` / :func:`fact_problems` — seeded problem generators (``id``, ``prompt``, ``answer``).
* :func:`grade` — exact match of the text after the last ``Final Answer:`` (stripped).
* :data:`WEIGHTS_DIR` — the committed model directory (``AutoModelForCausalLM`` / ``AutoTokenizer``).
* :mod:`.train` — the training recipe (``prunescale organism train``); :mod:`.check` — a budget-forcing check.
"""

from pathlib import Path

from .problems import ANSWER_PREFIX, MAX_K, chain_problems, extract_answer, fact_problems, grade

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

__all__ = ["ANSWER_PREFIX", "MAX_K", "WEIGHTS_DIR", "chain_problems", "extract_answer", "fact_problems", "grade"]
