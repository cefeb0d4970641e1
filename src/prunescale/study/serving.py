"""One OpenAI-compatible server per model variant, for studies with ``backend: openai`` and ``serve:``.

``serve`` is a command with ``{model}`` (the variant's directory) and ``{port}`` (a free port on 127.0.0.1),
e.g. ``vllm serve {model} --host 127.0.0.1 --port {port}``. The server is started in its own process group,
waited for until it answers (``/health`` or ``/v1/models``), used for the variant's cells and stopped after
them, also when a cell fails or the study is interrupted (Ctrl-C).
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from ..errors import PrunescaleError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, command: str, model_path: str, start_timeout: float = 900.0):
        self.command, self.model_path, self.start_timeout = command, model_path, start_timeout
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Start the server and wait until it answers; returns its base URL."""
        self.port = free_port()
        argv = shlex.split(self.command.format(model=shlex.quote(self.model_path), port=self.port))
        self.log = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        except OSError as e:
            raise PrunescaleError(f"serve: cannot start {argv[0]!r}: {e.strerror or e}") from None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                tail = self._tail()
                self.stop()
                raise PrunescaleError(f"serve: {argv[0]!r} exited with {rc} before answering"
                                      + (f": {tail}" if tail else ""))
            for path in ("/health", "/v1/models"):
                try:
                    with urllib.request.urlopen(self.url + path, timeout=2):
                        return self.url
                except OSError:
                    pass
            time.sleep(0.5)
        self.stop()
        raise PrunescaleError(f"serve: no answer on {self.url} after {self.start_timeout:.0f} s")

    def _tail(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        lines = [ln for ln in self.log.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1].strip()[:200] if lines else ""

    def stop(self) -> None:
        """Stop the server's whole process group (SIGTERM, then SIGKILL after 20 s)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if self.log is not None:
            self.log.close()
            self.log = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
