import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

SERVE = Path(sys.executable).with_name("transformers")


def free_port() -> int:
    """A port nothing listens on (127.0.0.1): a dead replica."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serve(model_dir: str):
    """A real ``transformers serve`` of ``model_dir`` on 127.0.0.1; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen([str(SERVE), "serve", "--host", "127.0.0.1", "--port", str(port), str(model_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):   # bounded wait for the server to come up
            try:
                urllib.request.urlopen(url + "/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("transformers serve exited during start-up")
                time.sleep(0.5)
        else:
            pytest.fail("transformers serve did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def transformers_serve():
    """``with transformers_serve(model_dir) as url:`` (start one per test module: it is slow on 2 cores)."""
    return _serve
