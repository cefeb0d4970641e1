"""benchmarks/organism_layer_roles.py on the committed organism: one row per layer removed, the unpruned first."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_layer_roles_split_chain_damage_by_part(capsys):
    spec = importlib.util.spec_from_file_location("layer_roles", ROOT / "benchmarks" / "organism_layer_roles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--k", "4", "--n", "12"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[0].strip() for r in rows] == ["none", *map(str, range(8))]
    table = {r[0].strip(): [float(x) for x in r[1:]] for r in rows}
    assert table["none"] == [1.0, 1.0, 1.0, 1.0, 1.0]          # the committed model knows every part
    assert max(table["0"]) < 0.5                               # nothing works without the first layer
    assert all(0 <= x <= 1 for r in table.values() for x in r)


def test_layer_roles_by_input_letter(capsys):
    spec = importlib.util.spec_from_file_location("layer_roles", ROOT / "benchmarks" / "organism_layer_roles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--k", "12", "--n", "24", "--letters"]) == 0
    out = capsys.readouterr().out.splitlines()
    from prunescale.organism.problems import cycle_order
    assert out[1].endswith("".join(cycle_order()))
    table = {r.split("|")[0].strip(): r.split("|")[-1].strip() for r in out[2:]}
    assert all(len(v) == 26 and set(v) <= set("0123456789#-") for v in table.values())
    assert set(table["none"]) <= {"#", "-"} and table["none"].count("#") >= 20   # every seen letter right
    assert table["0"].count("#") <= 2                                            # no first layer: no steps


def test_layer_roles_confidence_by_input_letter(capsys):
    spec = importlib.util.spec_from_file_location("layer_roles", ROOT / "benchmarks" / "organism_layer_roles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--k", "12", "--n", "24", "--letters", "--confidence"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].count("|") == 7 and "mean probability" in out[1]
    rows = {r.split("|")[0].strip(): [c.strip() for c in r.split("|")[-2:]] for r in out[2:]}
    for acc, conf in rows.values():
        assert len(conf) == 26 and set(conf) <= set("0123456789#-")
        assert [c == "-" for c in conf] == [c == "-" for c in acc]                 # the same letters seen
    # greedy right on every letter does not need sure: but a sure letter (>= 0.95) is nearly always right
    assert all(a in "#89" for acc, conf in rows.values() for a, c in zip(acc, conf) if c == "#")
    assert rows["0"][1].count("#") <= 2                                            # no first layer: unsure
