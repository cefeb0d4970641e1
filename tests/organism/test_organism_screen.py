"""benchmarks/organism_screen.py on the committed organism: the unpruned row, one per layer, then the pairs."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _screen():
    spec = importlib.util.spec_from_file_location("screen", ROOT / "benchmarks" / "organism_screen.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_screen_rows_per_layer_and_pair(capsys):
    mod = _screen()
    assert mod.main(["--n", "4", "--ks", "2", "--pairs", "--pair-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split("|") for line in lines[2:] if "|" in line]
    names = [r[0].strip() for r in rows]
    assert names[:9] == ["none", *map(str, range(8))]
    assert names[9:] == [f"{a},{b}" for a in range(8) for b in range(a + 1, 8)]
    table = {r[0].strip(): r for r in rows}
    assert table["none"][1].strip() == "1.00" and table["none"][2].strip() == "-"   # the committed model
    assert table["0"][1].strip() == "0.00" and "early" in table["0"][2]              # no first layer: no chain
    assert float(table["none"][3]) >= 0.95 and len(table["0,1"]) == 3                # facts; pairs have none


def test_screen_sets_add_rows_at_every_k(capsys):
    mod = _screen()
    assert mod.main(["--n", "4", "--ks", "2,4", "--sets", "1,0 6,7"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()[2:] if "|" in line]
    table = {r[0].strip(): r for r in rows}
    assert list(table)[-2:] == ["0,1", "6,7"]
    assert table["0,1"][1].strip() == "0.00 / 0.00"   # no first layer: no chain, at either k
    assert len(table["6,7"]) == 4                     # the sets also have facts
    for bad in ("3,99", "3,x"):
        with pytest.raises(SystemExit) as e:
            mod.main(["--n", "1", "--sets", bad])
        assert e.value.code == 2 and f"--sets '{bad}': layers are 0..7" in capsys.readouterr().err
