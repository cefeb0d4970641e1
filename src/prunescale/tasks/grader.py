"""math-verify in a long-lived worker process (:mod:`.grader_worker`), each comparison under a hard time limit.

Timeouts: math-verify's own ones use ``signal.alarm``, which only fires between Python bytecodes, so it cannot
stop sympy stuck in one huge integer power (``\\frac{9^{9^{9}}}{7}``). They are switched off in the worker and
this side kills the worker instead: one mechanism that always works, and every answer it cuts short is graded
wrong with a recorded reason (``Verdict.reason``, counted in ``failures``).
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("prunescale.tasks.grader_worker")   # the name it logged under before the split

TIMEOUT, DIED, NO_START = "timeout", "worker died", "worker did not start"
FAILURES: Counter = Counter()   # over every grader of this process


@dataclass(frozen=True)
class Verdict:
    equal: bool
    reason: str | None = None    # set when no verdict was reached and the answer is graded wrong


class Grader:
    """One worker answering "is pred equal to gold?"; killed and replaced on a timeout or when it dies.

    The worker is a fresh interpreter (``subprocess``, not ``multiprocessing``): nothing of the caller's main
    module is re-imported in it, and no process holding torch threads is forked."""

    def __init__(self, timeout: float = 5.0, start_timeout: float = 120.0, cache_size: int = 100_000):
        self.timeout, self.start_timeout, self.cache_size = timeout, start_timeout, cache_size
        self.failures: Counter = Counter()
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, int], Verdict] = {}

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> bool:
        src = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
        self._proc = subprocess.Popen([sys.executable, "-c", "from prunescale.tasks.grader_worker import serve; serve()"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        if self._readline(self.start_timeout) == "ready":
            return True
        self._stop()
        return False

    def _readline(self, timeout: float) -> str | None:
        """The worker's next line; None if it sent none within ``timeout`` seconds; "" if it died."""
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        return self._proc.stdout.readline().strip() if ready else None

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc.stdin.close()
            self._proc.stdout.close()
        self._proc = None

    def _ask(self, pred: str, gold: str, rounding: int) -> Verdict:
        if self._proc is None or self._proc.poll() is not None:
            self._stop()
            if not self._start():
                return Verdict(False, NO_START)
        try:
            self._proc.stdin.write(json.dumps([pred, gold, rounding]) + "\n")
            self._proc.stdin.flush()
            answer = self._readline(self.timeout)
        except OSError:
            answer = ""
        if answer in ("true", "false"):
            return Verdict(answer == "true")
        self._stop()   # stuck or dead: the next comparison starts a fresh worker
        return Verdict(False, TIMEOUT if answer is None else DIED)

    def verdict(self, pred: str, gold: str, rounding: int = 6) -> Verdict:
        """math-verify's verdict; ``rounding``: decimals floats are rounded to before comparing (its
        ``float_rounding``)."""
        key = (pred, gold, rounding)
        with self._lock:
            if key not in self._cache:
                v = self._ask(pred, gold, rounding)
                if v.reason:
                    self.failures[v.reason] += 1
                    FAILURES[v.reason] += 1
                    log.warning("answer graded wrong (%s): %.80r vs %.80r", v.reason, pred, gold)
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[key] = v
            return self._cache[key]

    def close(self) -> None:
        with self._lock:
            self._stop()


_grader: Grader | None = None


def shared_grader(timeout: float = 5.0) -> Grader:
    """The process-wide grader (one worker per process), replaced if a different time limit is asked for."""
    global _grader
    if _grader is None or _grader.timeout != timeout:
        if _grader is not None:
            _grader.close()
        _grader = Grader(timeout)
    return _grader
