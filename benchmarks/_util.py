"""Helpers for benchmark scripts: peak resident memory while a function runs."""

import os
import threading
import time


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_during(fn, *args, **kwargs):
    """Run fn; return (result, peak RSS in MiB above the RSS just before, seconds)."""
    base, peak, stop = rss_mb(), [rss_mb()], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
    finally:
        secs = time.perf_counter() - start
        stop.set()
        t.join()
    return result, max(peak[0], rss_mb()) - base, secs
