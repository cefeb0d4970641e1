"""A 2-variant organism study with `eval: {backend: vllm}`: one engine per variant, closed before the next."""

import pytest

pytest.importorskip("vllm", reason="vllm is not importable here: `make test` runs these tests in .venv-vllm "
                    "(`make vllm-venv`)")

import json

from prunescale.generate.vllm_backend import VLLMBackend
from prunescale.study.run import run_study
from prunescale.study.spec import parse_study

STUDY = {
    "name": "on-vllm",
    "models": ["embedded:organism"],
    "methods": ["reverse"],
    "remove": [1],
    "eval": {"backend": "vllm", "enforce_eager": True, "temperature": 0, "limit": 4, "answer_tokens": 32},
    "tasks": [{"task": "organism-chain:k=8", "label": "chain", "budgets": [40]}],
}


def test_study_on_vllm_one_engine_per_variant(tmp_path, monkeypatch):
    events = []
    built, closed = VLLMBackend.from_config.__func__, VLLMBackend.close

    def from_config(cls, cfg, path=None, name_hint=None):
        assert all(e[0] == "close" for e in events[1::2]), "an engine is still open"
        b = built(cls, cfg, path, name_hint)
        events.append(("open", path))
        return b

    def close(self):
        events.append(("close", self.llm is not None))
        closed(self)
        assert self.llm is None and self.engine is None

    monkeypatch.setattr(VLLMBackend, "from_config", classmethod(from_config))
    monkeypatch.setattr(VLLMBackend, "close", close)
    result = run_study(parse_study(STUDY), tmp_path, report=True, log=lambda *_: None)
    assert set(result.values()) == {"done"} and len(result) == 2
    assert [e[0] for e in events] == ["open", "close", "open", "close"] and events[1][1] and events[3][1]
    assert events[0][1] != events[2][1]   # two model variants, two engines
    summaries = sorted(tmp_path.glob("cells/*/summary.json"))
    base = [json.loads(p.read_text()) for p in summaries]
    assert any(s["tasks"]["organism-chain:k=8"]["budgets"]["40"]["accuracy"] == 1.0 for s in base)
    assert (tmp_path / "report").exists() or list(tmp_path.glob("report*"))
