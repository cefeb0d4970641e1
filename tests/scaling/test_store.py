"""The results store: idempotent inserts, identity check, survives SIGKILL mid-write."""

import os
import signal
import subprocess
import sys
import time

import pytest

from prunescale.errors import PrunescaleError
from prunescale.scaling.store import COLUMNS, Store


def _row(pid, i, budget=64):
    r = {c: 0 for c in COLUMNS}
    r.update(task="t", problem_id=str(pid), budget=budget, seed=0, sample_idx=i, sample_seed=i, prompt_hash="h",
             text=f"text {pid} {i}", thinking="", answer_text="", extracted=None, gold="1", wall_s=0.1)
    return r


def test_insert_is_idempotent_and_keys_are_reported(tmp_path):
    s = Store(tmp_path / "r.sqlite")
    assert s.add([_row(1, 0), _row(1, 1)]) == 2
    assert s.add([_row(1, 0), _row(2, 0)]) == 1   # (1, 0) already there
    assert s.done_keys("t", 64) == {("1", 0, 0), ("1", 0, 1), ("2", 0, 0)}
    assert s.done_keys("t", 128) == set()
    assert s.count() == 3


def test_identity_mismatch_is_refused(tmp_path):
    s = Store(tmp_path / "r.sqlite")
    s.check_identity({"model": "a", "temperature": 1.0})
    s.check_identity({"model": "a", "temperature": 1.0})
    with pytest.raises(PrunescaleError, match="temperature=1.0"):
        s.check_identity({"model": "a", "temperature": 0.0})


WRITER = """
import sys, time
from prunescale.scaling.store import Store, COLUMNS
s = Store(sys.argv[1])
for b in range(100000):
    rows = []
    for i in range(10):
        r = {c: 0 for c in COLUMNS}
        r.update(task="t", problem_id=str(b), budget=1, seed=0, sample_idx=i, sample_seed=i, prompt_hash="h",
                 text="x" * 2000, thinking="", answer_text="", extracted=None, gold="1", wall_s=0.0)
        rows.append(r)
    s.add(rows)
    print(b, flush=True)
"""


def test_sigkill_mid_write_keeps_whole_batches(tmp_path):
    db = tmp_path / "r.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    for _ in range(30):   # let it commit some batches
        proc.stdout.readline()
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    s = Store(db)
    rows = s.rows()
    assert len(rows) >= 300 and len(rows) % 10 == 0   # whole batches only, nothing half-written
    per_problem = {}
    for r in rows:
        per_problem.setdefault(r["problem_id"], set()).add(r["sample_idx"])
    assert all(v == set(range(10)) for v in per_problem.values())
    assert s.add([_row(0, 0)]) == 1 and s.count() == len(rows) + 1   # still writable
