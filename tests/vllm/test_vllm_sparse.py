"""Unstructured pruning writes a dense Hugging Face directory (zeros in the weights) that vLLM loads and evaluates
exactly as the hf backend does.

A compressed-tensors *sparse* checkpoint is not an option for vLLM 0.32: its compressed-tensors loader raises
"Sparsity support has been removed from compressed-tensors" for any sparsity config (see
vllm/model_executor/layers/quantization/compressed_tensors/compressed_tensors.py, _parse_sparsity_config), so
the dense directory is the format vLLM serves; test_no_sparsity_config_is_written pins that down.
"""

import pytest

pytest.importorskip("vllm", reason="vllm is not importable here: `make test` runs these tests in .venv-vllm "
                    "(`make vllm-venv`)")

import json

from prunescale.cli.main import main


@pytest.fixture(scope="module")
def wanda(tmp_path_factory):
    out = tmp_path_factory.mktemp("sparse") / "wanda-s0.3"
    assert main(["prune", "--model", "embedded:organism", "--method", "wanda", "--sparsity", "0.3",
                 "--calibration", "organism", "--calibration-samples", "8", "--out", str(out)]) == 0
    return out


def test_no_sparsity_config_is_written(wanda):
    config = json.loads((wanda / "config.json").read_text())
    assert "quantization_config" not in config and "sparsity_config" not in config
    record = json.loads((wanda / "prunescale.json").read_text())
    assert abs(record["measured_sparsity"] - 0.3) <= 0.01


def test_vllm_evaluates_the_sparse_model_as_hf_does(wanda, tmp_path):
    args = ["--model", str(wanda), "--task", "organism-chain:k=8", "--budgets", "40", "--limit", "8",
            "--temperature", "0", "--answer-tokens", "32"]
    assert main(["eval", "--backend", "vllm", "--enforce-eager", *args, "--out", str(tmp_path / "v")]) == 0
    assert main(["eval", *args, "--out", str(tmp_path / "h")]) == 0
    v, h = (json.loads((tmp_path / d / "summary.json").read_text())["tasks"]["organism-chain:k=8"]["budgets"]["40"]
            for d in "vh")
    assert v["accuracy"] == h["accuracy"] and v["thinking_tokens_mean"] == h["thinking_tokens_mean"]
