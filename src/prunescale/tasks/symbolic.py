"""Symbolic answer equivalence with sympy, each comparison under a hard time limit in a worker process.

A pathological answer (``10^{10^{10^{10}}}``) can make sympy run for hours; signals would only work on the
main thread, so comparisons run in a long-lived worker process that is killed and restarted on a timeout.
"""

from __future__ import annotations

import multiprocessing as mp
import re
import threading

_LATEX = [
    (r"\\left|\\right|\\displaystyle|\\!|\\,|\\;|\\ ", ""),
    (r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))"),
    (r"\\sqrt\s*\[([^\]]*)\]\s*\{([^{}]*)\}", r"((\2)**(1/(\1)))"),
    (r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)"),
    (r"\\sqrt\s*(\w)", r"sqrt(\1)"),
    (r"\\(?:cdot|times)", "*"),
    (r"\\pi", "pi"),
    (r"\\infty", "oo"),
    (r"\^\s*\{?\\circ\}?", ""),
    (r"\\text\{[^{}]*\}", ""),
]


def latex_to_sympy(s: str) -> str:
    s = s.strip().strip("$")
    for _ in range(4):   # nested \frac / \sqrt unwrap from the inside out
        for pat, rep in _LATEX:
            s = re.sub(pat, rep, s)
    return s.replace("{", "(").replace("}", ")").replace("^", "**")


def _split_top(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def _equal_in_worker(a: str, b: str) -> bool:
    from sympy import simplify
    from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication_application, parse_expr,
                                            standard_transformations)

    tr = standard_transformations + (implicit_multiplication_application, convert_xor)

    def parts(x):
        x = x.strip()
        if len(x) > 1 and x[0] in "([" and x[-1] in ")]" and "," in x:
            return x[0], _split_top(x[1:-1]), x[-1]
        return None, [x], None

    oa, pa, ca = parts(a)
    ob, pb, cb = parts(b)
    if len(pa) != len(pb) or (oa, ca) != (ob, cb):
        return False
    for x, y in zip(pa, pb):
        ex, ey = parse_expr(latex_to_sympy(x), transformations=tr), parse_expr(latex_to_sympy(y), transformations=tr)
        if simplify(ex - ey) != 0:
            return False
    return True


def _serve(conn) -> None:
    while True:
        a, b = conn.recv()
        try:
            conn.send(bool(_equal_in_worker(a, b)))
        except Exception:   # unparsable answers are simply not equal
            conn.send(False)


class SymbolicChecker:
    """One worker process answering "are these equal?", killed and replaced when a comparison times out."""

    def __init__(self, timeout: float = 5.0):
        self.timeout = timeout
        self._proc = None
        self._conn = None
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], bool] = {}

    def _start(self) -> None:
        ctx = mp.get_context("spawn")   # no fork of a process that may hold torch threads
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        self._conn = parent

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
        self._proc = self._conn = None

    def equal(self, a: str, b: str) -> bool:
        key = (a, b)
        if key in self._cache:
            return self._cache[key]
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._start()
            self._conn.send(key)
            if self._conn.poll(self.timeout):
                result = self._conn.recv()
            else:
                self._stop()   # the comparison is stuck: kill it; the next call starts a fresh worker
                result = False
        self._cache[key] = result
        return result

    def close(self) -> None:
        with self._lock:
            self._stop()


_checker: SymbolicChecker | None = None


def symbolic_equal(a: str, b: str, timeout: float = 5.0) -> bool:
    global _checker
    if _checker is None or _checker.timeout != timeout:
        _checker = SymbolicChecker(timeout)
    return _checker.equal(a, b)
