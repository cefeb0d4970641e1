"""The results store: one SQLite database (WAL) per run directory.

Every generation is one row, committed as soon as its batch finishes; the primary key makes re-inserting a
sample a no-op. A run killed with SIGKILL loses at most the batch in flight and resumes from the rows present.
The run identity (settings that change a generation) is written with the first rows, so a run that failed
before generating anything does not lock its directory to its settings.

Current problems: each run records, per task, the ids of the problems it evaluated (manifest key ``problems``).
Readers (``rows``: export, analysis, the report, fine-tuning data) see only those problems of a task; rows of
problems since dropped from its file (or past a smaller ``--limit``) stay in the store and are read with
``rows(every=True)`` (``prunescale export --all``). A store written before the record existed, or a task it has
no record for, shows every row, as before.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable

from ..errors import PrunescaleError

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generations (
    task TEXT NOT NULL, problem_id TEXT NOT NULL, budget INTEGER NOT NULL, seed INTEGER NOT NULL,
    sample_idx INTEGER NOT NULL, sample_seed INTEGER NOT NULL, prompt_hash TEXT NOT NULL,
    text TEXT NOT NULL, thinking TEXT NOT NULL, answer_text TEXT NOT NULL,
    thinking_tokens INTEGER NOT NULL, answer_tokens INTEGER NOT NULL, forced INTEGER NOT NULL,
    waits INTEGER NOT NULL, finished INTEGER NOT NULL, extracted TEXT, gold TEXT NOT NULL,
    correct INTEGER NOT NULL, wall_s REAL NOT NULL, created REAL NOT NULL, grade_note TEXT,
    PRIMARY KEY (task, problem_id, budget, seed, sample_idx)
);
"""
COLUMNS = ["task", "problem_id", "budget", "seed", "sample_idx", "sample_seed", "prompt_hash", "text", "thinking",
           "answer_text", "thinking_tokens", "answer_tokens", "forced", "waits", "finished", "extracted", "gold",
           "correct", "wall_s", "created", "grade_note"]


class Store:
    def __init__(self, path: str | Path, readonly: bool = False):
        """``readonly``: for readers (the report): nothing is created, migrated or written."""
        self.path = Path(path)
        self._identity: dict | None = None   # checked, written with the first rows
        self.readonly = readonly
        if readonly:
            try:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)
                self.columns = [r[1] for r in self.db.execute("PRAGMA table_info(generations)")]
            except sqlite3.DatabaseError as e:
                raise PrunescaleError(f"cannot open results store {str(self.path)!r}: {e}") from None
            if not self.columns:
                raise PrunescaleError(f"{str(self.path)!r} is not a prunescale results store")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns = COLUMNS
        try:
            self.db = sqlite3.connect(self.path, timeout=60)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")   # with WAL: durable across a process kill
            self.db.executescript(SCHEMA)
            have = {r[1] for r in self.db.execute("PRAGMA table_info(generations)")}
            if "grade_note" not in have:   # a store written before grading notes existed
                with self.db:
                    self.db.execute("ALTER TABLE generations ADD COLUMN grade_note TEXT")
        except sqlite3.DatabaseError as e:
            raise PrunescaleError(f"cannot open results store {str(self.path)!r}: {e}") from None

    def close(self) -> None:
        self.db.close()

    # manifest -------------------------------------------------------------------------------------------------
    def manifest(self) -> dict:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM manifest")}

    def set_manifest(self, values: dict) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO manifest VALUES (?, ?)",
                                [(k, json.dumps(v, default=str)) for k, v in values.items()])

    def current_problems(self) -> dict[str, set[str]]:
        """task -> the problem ids its latest run evaluated (empty for a store written before the record)."""
        recorded = self.manifest().get("problems")
        return {t: set(ids) for t, ids in recorded.items()} if isinstance(recorded, dict) else {}

    def record_problems(self, problems: dict[str, list[str]]) -> None:
        """Record these tasks' current problem ids (other tasks keep theirs)."""
        recorded = self.manifest().get("problems")
        merged = dict(recorded) if isinstance(recorded, dict) else {}
        merged.update({t: list(ids) for t, ids in problems.items()})
        self.set_manifest({"problems": merged})

    def check_identity(self, identity: dict) -> None:
        """Refuse to mix generations made with different settings in one store."""
        # An identity with no rows (left by an older version's failed run) locks nothing.
        old = (self.manifest().get("identity") if self.count() else None) or self._identity
        if old is None:
            self._identity = identity
            return
        diff = [k for k in sorted(set(old) | set(identity)) if old.get(k) != identity.get(k)]
        if diff:
            k = diff[0]
            raise PrunescaleError(f"{str(self.path.parent)!r} holds a run with {k}={old.get(k)!r}, not "
                                  f"{identity.get(k)!r}; use another --out to evaluate different settings")

    # generations ----------------------------------------------------------------------------------------------
    def done_keys(self, task: str, budget: int) -> set[tuple]:
        rows = self.db.execute("SELECT problem_id, seed, sample_idx FROM generations WHERE task=? AND budget=?",
                               (task, budget))
        return {tuple(r) for r in rows}

    def add(self, rows: Iterable[dict]) -> int:
        now = time.time()
        values = [tuple({"grade_note": None, **r, "created": r.get("created", now)}[c] for c in COLUMNS)
                  for r in rows]
        with self.db:   # one transaction per batch, with the identity when these are the first rows
            cur = self.db.executemany(
                f"INSERT OR IGNORE INTO generations ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                values)
            n = cur.rowcount
            if n and self._identity is not None:   # set only while the store holds no identity
                self.db.execute("INSERT OR REPLACE INTO manifest VALUES ('identity', ?)", (json.dumps(self._identity),))
        if n:
            self._identity = None
        return n

    def problem_keys(self, task: str) -> dict[str, set[tuple[str, str]]]:
        """problem_id -> the (prompt_hash, gold) pairs its stored generations were made with."""
        out: dict[str, set[tuple[str, str]]] = {}
        for pid, h, gold in self.db.execute(
                "SELECT DISTINCT problem_id, prompt_hash, gold FROM generations WHERE task=?", (task,)):
            out.setdefault(pid, set()).add((h, gold))
        return out

    def delete_problems(self, task: str, problem_ids: list[str]) -> int:
        """Remove every generation of these problems, in one transaction."""
        with self.db:
            cur = self.db.executemany("DELETE FROM generations WHERE task=? AND problem_id=?",
                                      [(task, pid) for pid in problem_ids])
        return cur.rowcount

    def rows(self, task: str | None = None, columns: list[str] | None = None, every: bool = False) -> list[dict]:
        """Stored generations (of one task) of each task's current problems, in key order; ``columns``: only
        these (a report skips the texts); ``every``: also the rows of problems no longer current."""
        cols = [c for c in (columns or COLUMNS) if c in self.columns]   # an older store lacks newer columns
        current = {} if every else self.current_problems()
        read = cols + [c for c in ("task", "problem_id") if current and c not in cols]
        q = f"SELECT {', '.join(read)} FROM generations"
        args: tuple = ()
        if task is not None:
            q, args = q + " WHERE task=?", (task,)
        q += " ORDER BY task, budget, seed, problem_id, sample_idx"
        rows = (dict(zip(read, r)) for r in self.db.execute(q, args))
        if current:
            rows = (r for r in rows if r["task"] not in current or r["problem_id"] in current[r["task"]])
        return [{c: r[c] for c in cols} for r in rows] if len(read) > len(cols) else list(rows)

    def tasks(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT task FROM generations ORDER BY task")]

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
