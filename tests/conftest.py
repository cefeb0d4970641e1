import os
from pathlib import Path

import pytest

# Tests never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def smollm2():
    """The embedded SmolLM2-135M, loaded once per test session (converted from its GGUF on first use)."""
    from prunescale.models.loading import load_model

    return load_model("embedded:smollm2-135m")


@pytest.fixture(scope="session")
def smollm2_calibration(smollm2):
    from prunescale.prune.calibration import load_calibration

    return load_calibration("self", smollm2.model, smollm2.tokenizer, samples=8, max_seq_len=48, batch_size=4, seed=0)
