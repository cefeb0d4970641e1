"""A pruning method defined in one place (here: inside the test) shows up in `prune --help`, `layers --help`,
`prunescale layers`, `prunescale prune` with its own option flag, and a study."""

from __future__ import annotations

import json

import pytest

from prunescale.cli.main import build_parser, main
from prunescale.prune import METHODS, MethodOption, PruneMethod
from prunescale.study.run import run_study
from prunescale.study.spec import parse_study


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))   # the real registry is left as it was

    @METHODS.register("every-other")
    class EveryOther(PruneMethod):
        """Removes every other layer from --every-other-start up: a toy, to test the extension point."""

        score_name = "distance_from_start"
        options = (MethodOption("start", int, 1, "first layer to remove (default 1)"),)

        def layer_scores(self, model, calibration, n):
            from prunescale.models.surgery import num_layers

            return [float(abs(i - self.settings["start"])) for i in range(num_layers(model))]

        def choose(self, model, n, scores):
            return list(range(self.settings["start"], self.settings["start"] + 2 * n, 2))

    return EveryOther


def _help(command: str) -> str:
    parser, commands = build_parser()
    return commands[command].format_help()


def test_toy_method_in_help_of_prune_and_layers(toy):
    for command in ("prune", "layers"):
        text = _help(command)
        assert "every-other" in text and "--every-other-start" in text and "first layer to remove" in text


def test_toy_method_prunes_and_lists_layers(toy, tmp_path, capsys):
    out = tmp_path / "pruned"
    assert main(["prune", "--model", "embedded:organism", "--method", "every-other", "--every-other-start", "2",
                 "--remove", "2", "--out", str(out)]) == 0
    record = json.loads((out / "prunescale.json").read_text())
    assert record["removed_layers"] == [2, 4] and record["layers_after"] == 6
    capsys.readouterr()
    assert main(["layers", "--model", "embedded:organism", "--method", "every-other", "--every-other-start", "3",
                 "--remove", "2", "--calibration", "organism", "--calibration-samples", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["removed"] == [3, 5]
    assert [row["distance_from_start"] for row in data["layers"]][:4] == [3.0, 2.0, 1.0, 0.0]
    # its flag with another method is a one-line error
    assert main(["prune", "--model", "embedded:organism", "--method", "reverse", "--every-other-start", "2",
                 "--remove", "1", "--out", str(tmp_path / "x")]) == 2
    assert "--every-other-start applies to --method every-other" in capsys.readouterr().err


def test_toy_method_in_a_study(toy, tmp_path):
    study = parse_study({"name": "toy", "models": ["embedded:organism"], "methods": ["every-other"], "remove": [1],
                         "prune": {"options": {"every-other": {"start": 5}}},
                         "tasks": [{"task": "organism-facts", "budgets": [8], "temperature": 0, "limit": 4,
                                    "answer_tokens": 32}]})
    result = run_study(study, tmp_path, report=False, log=lambda *_: None)
    assert result == {"organism__base__organism-facts": "done", "organism__every-other-1__organism-facts": "done"}
    variant = json.loads((tmp_path / "variants" / "organism__every-other-1.json").read_text())
    assert variant["removed_layers"] == [5] and variant["score_name"] == "distance_from_start"
    with pytest.raises(Exception, match="method 'every-other' has no option 'stride'"):
        parse_study({"name": "toy", "models": ["embedded:organism"], "methods": ["every-other"],
                     "prune": {"options": {"every-other": {"stride": 5}}}, "tasks": ["organism-facts"]})
