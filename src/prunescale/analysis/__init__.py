"""Why pruned models stop scaling: repetition loops, Self-BLEU, diversity, self-reflection, length stats.

Inputs are plain records (:class:`Record` or dicts with ``problem_id``, ``sample``, ``response`` and
optionally ``correct``, ``thinking_tokens``, ``budget``, ``forced``, ``thinking_end``, ``model``, ``task``);
everything runs offline without downloaded data. The LLM judge (:mod:`.judge`) is optional.
"""

from .diversity import cross_sample_self_bleu, distinct_n, sample_diversity
from .judge import JudgeConfig, ReflectionJudge
from .length import length_info
from .lmeval import read_lmeval_jsonl
from .loops import LoopReport, detect_loops, loop_rate
from .records import Record
from .reflection import count_reflection
from .output import write_analysis
from .selfbleu import bleu_against_others, self_bleu, sentence_self_bleu
from .summary import analyze_records, analyze_response, compare_by_correctness

__all__ = [
    "JudgeConfig", "LoopReport", "Record", "ReflectionJudge", "analyze_records", "analyze_response",
    "bleu_against_others", "compare_by_correctness", "count_reflection", "cross_sample_self_bleu",
    "detect_loops", "distinct_n", "length_info", "loop_rate", "read_lmeval_jsonl", "sample_diversity",
    "self_bleu", "sentence_self_bleu", "write_analysis",
]
