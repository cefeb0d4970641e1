"""The grading worker process: math-verify answering "is pred equal to gold?" on a line protocol. It is started and
timed by :class:`prunescale.tasks.grader.Grader`, in a fresh interpreter.

What reaches sympy: only ``LatexExtractionConfig`` is used, so an answer is read by latex2sympy2_extended's ANTLR
grammar, whose visitor builds sympy objects node by node (``Symbol``, ``Integer``, ``Function(name)``...); no text
reaches sympy's string parser or sympify (math-verify uses sympy's string parser only for
``ExprExtractionConfig``, after a regex restricted the text to digits and ``+-*/^()``; we do not use that config).
math-verify's own timeouts are switched off (``parsing_timeout`` / ``timeout_seconds`` None): the client kills the
worker instead. Memory: the worker's address space is capped at ``MEMORY_HEADROOM`` above what it holds once
warm, so an answer like ``2^{10^{10}}`` fails with MemoryError (graded wrong) instead of taking gigabytes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

MEMORY_HEADROOM = 512 * 2**20   # address space the worker may add once warm: no real comparison comes close


def _verify(pred: str, gold: str, rounding: int = 6) -> bool:
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]
    g = parse(f"${gold}$", extraction_config=config, parsing_timeout=None)
    p = parse(f"${pred}$", extraction_config=config, parsing_timeout=None)
    return bool(g and p and verify(g, p, float_rounding=rounding, timeout_seconds=None))


def _cap_memory() -> None:
    try:
        import resource

        size = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (size + MEMORY_HEADROOM, resource.RLIM_INFINITY))
    except (ImportError, OSError, ValueError):   # not Linux: the time limit still bounds the worker
        pass


def serve() -> None:
    """The worker's loop: one JSON ``[pred, gold, rounding]`` per line on stdin, ``true``/``false`` per line on
    stdout (``rounding``: math-verify's ``float_rounding``)."""
    out, sys.stdout = sys.stdout, sys.stderr   # nothing but answers on the protocol stream
    logging.getLogger("math_verify").setLevel(logging.ERROR)   # "timeout disabled" warnings: we enforce it
    _verify("1", "1")   # import and warm sympy/ANTLR before saying ready: start-up is not charged to an answer
    _cap_memory()
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            result = _verify(*json.loads(line))
        except Exception:   # unparsable answers are simply not equal
            result = False
        out.write("true\n" if result else "false\n")
        out.flush()
