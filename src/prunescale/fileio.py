"""Plumbing every stage shares: atomic file writes, JSON / JSONL reading, library versions.

Each concept has this one home, so a fix (say, to how a half-written file is avoided) reaches every writer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import PrunescaleError


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write via a temporary file in the same folder and os.replace, so readers never see half a file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise PrunescaleError(f"cannot write {path}: {e.strerror}") from None
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.fchmod(fd, 0o666 & ~_umask())
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(out: str | Path, keep_if=None):
    """Yield a temporary sibling directory to fill; on success it replaces ``out`` (an existing ``out`` is
    moved aside first, then removed), on failure it is removed: ``out`` is never half-written.

    ``keep_if``: a test of a finished ``out`` (e.g. "has config.json"); with it, an ``out`` that another process
    finished first and passes the test is kept and the fill dropped (caches several processes may build at once:
    readers never see it vanish), and one that fails it is an error."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        if keep_if is not None:
            try:
                tmp.rename(out)
            except OSError:  # another process finished first
                if not keep_if(out):
                    raise
        elif out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(trash / out.name)
            tmp.rename(out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_out_dir(out: str | os.PathLike, flag: str = "--out", *, empty: bool = False, overwrite: bool = False,
                  overwrite_flag: str = "--overwrite", replace: bool = False) -> Path:
    """Where a command will write a directory, checked before any work: ``out`` is a directory that can be
    written, or a path that can become one (not a file, not under a file, in a folder that can be written).

    ``empty``: an existing ``out`` must be empty unless ``overwrite`` (the error names ``overwrite_flag``);
    ``replace``: the directory is written whole and renamed into place (:func:`atomic_dir`), so its parent must
    be writable too. Every problem is one :class:`PrunescaleError` line naming ``flag`` and the path."""
    out = _out_path(out, flag)
    shown = f"{flag} {str(out)!r}"
    if os.path.lexists(out) and not out.exists():
        raise PrunescaleError(f"{shown} is a broken symbolic link")
    if out.exists():
        if not out.is_dir():
            raise PrunescaleError(f"{shown} is a file; give a directory")
        if not _writable(out):
            raise PrunescaleError(f"{shown} is not writable (permission denied)")
        if empty and not overwrite and any(out.iterdir()):
            raise PrunescaleError(f"{shown}: output directory is not empty (use {overwrite_flag} to replace it)")
        if replace:
            _check_creatable(out, shown)
        return out
    _check_creatable(out, shown)
    return out


def check_out_file(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Where a command will write a file, checked before any work: not a directory, not under a file, an existing
    file writable, its folder writable or creatable (files are written atomically, beside the target)."""
    path = _out_path(path, flag)
    shown = f"{flag} {str(path)!r}"
    if os.path.lexists(path) and not path.exists():
        raise PrunescaleError(f"{shown} is a broken symbolic link")
    if path.is_dir():
        raise PrunescaleError(f"{shown} is a directory; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise PrunescaleError(f"{shown} is not writable (permission denied)")
    _check_creatable(path, shown)
    return path


def out_dir_type(flag: str = "--out"):
    """A command-line type for an output directory: checked by :func:`check_out_dir` as the flag is read (before
    any work, and before ``--save-config`` writes), kept as given."""
    def out_dir(text: str) -> str:
        check_out_dir(text, flag)
        return text
    return out_dir


def out_file_type(flag: str = "--out"):
    """A command-line type for an output file: checked by :func:`check_out_file` as the flag is read."""
    def out_file(text: str) -> str:
        check_out_file(text, flag)
        return text
    return out_file


def _out_path(out, flag: str) -> Path:
    if not str(out).strip():
        raise PrunescaleError(f"{flag} is empty; give a path")
    if "\0" in str(out):
        raise PrunescaleError(f"{flag} {str(out)!r} contains a NUL character")
    return Path(out).expanduser()


def _check_creatable(path: Path, shown: str) -> None:
    """``path`` can be created (or replaced): its nearest existing ancestor is a writable directory."""
    for p in path.parents:   # relative paths end at '.', absolute ones at the root
        if os.path.lexists(p) and not p.exists():
            raise PrunescaleError(f"{shown} is under the broken symbolic link {str(p)!r}")
        if p.exists():
            if not p.is_dir():
                raise PrunescaleError(f"{shown} is under the file {str(p)!r}; give a path in a directory")
            if not _writable(p):
                raise PrunescaleError(f"{shown} cannot be created: {str(p)!r} is not writable (permission denied)")
            return


def _writable(directory: Path) -> bool:
    """A directory whose entries can be created and removed (``os.access``: permissions, ACLs, read-only mounts;
    root passes it, as root can write)."""
    return os.access(directory, os.W_OK | os.X_OK)


def write_json_atomic(obj, path: str | Path) -> None:
    """``obj`` as indented JSON (non-JSON values as strings), written atomically."""
    write_atomic(path, json.dumps(obj, indent=2, default=str) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_text_utf8(path: str | Path, what: str = "file") -> str:
    """A UTF-8 text file; missing, unreadable or not UTF-8 is a one-line error naming the file."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PrunescaleError(f"{what} {str(path)!r} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at "
                              f"offset {e.start})") from None
    except IsADirectoryError:
        raise PrunescaleError(f"{what} {str(path)!r} is a directory, not a file") from None
    except OSError as e:
        raise PrunescaleError(f"cannot read {what} {str(path)!r}: {e.strerror or e}") from None


def read_jsonl_rows(path: str | Path, what: str = "data file", objects: bool = True) -> list[tuple[int, object]]:
    """(line number, value) of each non-blank line of a UTF-8 JSONL file, at least one; with ``objects`` every
    value must be a JSON object. Every problem is a one-line error naming the file and line."""
    rows = []
    for n, line in enumerate(read_text_utf8(path, what).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise PrunescaleError(f"{path}: line {n} is not valid JSON") from None
        if objects and not isinstance(row, dict):
            raise PrunescaleError(f"{path}: line {n} is not a JSON object (got {type(row).__name__} "
                                  f"{line.strip()[:40]})")
        rows.append((n, row))
    if not rows:
        raise PrunescaleError(f"{what} {str(path)!r} has no rows")
    return rows


def library_versions(*extra: str) -> dict:
    """Versions of prunescale, torch, transformers and any ``extra`` importable packages (recorded with results)."""
    import importlib

    from . import __version__

    out = {"prunescale": __version__}
    for name in ("torch", "transformers", *extra):
        try:
            out[name] = importlib.import_module(name).__version__
        except (ImportError, AttributeError):
            continue
    return out
