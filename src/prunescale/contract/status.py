"""Cell status of a study in SQLite (WAL): todo / running / done / failed, with the error and timings.

A cell counts as done only for the eval options it was run with (``options_hash``): changing a task's budgets
in the study file makes its cells run again (the eval store inside resumes, so only the new work is done).
``StatusDB(path, readonly=True)`` only reads (the report): no schema, no pragmas, no directory made.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error TEXT,
    started REAL,
    finished REAL,
    seconds REAL,
    options_hash TEXT,
    host TEXT,
    pid INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
)
"""


def options_hash(options: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:16]


class StatusDB:
    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        if readonly:
            self.conn = _open_readonly(self.path)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "StatusDB":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, cell_id: str) -> dict | None:
        cur = self.conn.execute("SELECT * FROM cells WHERE id = ?", (cell_id,))
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def all(self) -> dict[str, dict]:
        cur = self.conn.execute("SELECT * FROM cells")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r)) for r in cur.fetchall()}

    def is_done(self, cell_id: str, opts_hash: str) -> bool:
        row = self.get(cell_id)
        return bool(row and row["status"] == "done" and row["options_hash"] == opts_hash)

    def start(self, cell_id: str, opts_hash: str) -> None:
        self.conn.execute(
            "INSERT INTO cells (id, status, started, options_hash, host, pid, attempts) VALUES (?, 'running', ?, ?, ?, ?, 1) "
            "ON CONFLICT(id) DO UPDATE SET status='running', error=NULL, started=excluded.started, finished=NULL, "
            "seconds=NULL, options_hash=excluded.options_hash, host=excluded.host, pid=excluded.pid, "
            "attempts=attempts+1",
            (cell_id, time.time(), opts_hash, socket.gethostname(), os.getpid()))

    def finish(self, cell_id: str, error: str | None = None) -> None:
        now = time.time()
        self.conn.execute("UPDATE cells SET status=?, error=?, finished=?, seconds=? - started WHERE id=?",
                          ("failed" if error else "done", error, now, now, cell_id))

    def fail(self, cell_id: str, error: str, opts_hash: str) -> None:
        """Record a failure for a cell that never started (its model could not be prepared)."""
        if self.get(cell_id) is None or self.get(cell_id)["status"] != "running":
            self.start(cell_id, opts_hash)
        self.finish(cell_id, error)

    def display_status(self, row: dict | None, opts_hash: str) -> str:
        """What ``study status`` shows: a running row whose process is gone on this host is 'interrupted'."""
        if row is None:
            return "todo"
        if row["status"] == "done" and row["options_hash"] != opts_hash:
            return "todo"   # options changed since it ran
        if row["status"] == "running" and row["host"] == socket.gethostname() and not _alive(row["pid"]):
            return "interrupted"
        return row["status"]


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection; a WAL database whose -shm file is missing may refuse ``mode=ro``, so then a
    plain one (still only read from)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            conn.execute("SELECT * FROM cells LIMIT 0")
            return conn
        except sqlite3.Error:
            conn.close()
            raise
    except sqlite3.Error:
        return sqlite3.connect(path, timeout=10)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
