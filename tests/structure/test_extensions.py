"""Every extension kind is declared one way (``prunescale.registry.Registry``) and found by discovery: a toy of
each kind, shipped as a third-party package (a module on sys.path plus an entry point), is listed where a user
sees that kind; and a registry imports every module of its package on the first look-up."""

from __future__ import annotations

import contextlib
import sys
import textwrap
import types

import pytest

from prunescale.cli.common import COMMANDS
from prunescale.cli.main import build_parser
from prunescale.fragility.catalog import PREDICTORS, plotted, predictor_names
from prunescale.generate.base import BACKENDS
from prunescale.models.surgery import ADAPTERS, adapter_for
from prunescale.prune import METHODS
from prunescale.registry import Registry
from prunescale.report.figures import FIGURES, figure_families
from prunescale.tasks.base import TASKS

REGISTRIES = {"methods": METHODS, "tasks": TASKS, "backends": BACKENDS, "adapters": ADAPTERS, "figures": FIGURES,
              "commands": COMMANDS, "predictors": PREDICTORS}

TOY = '''
from prunescale.cli.common import COMMANDS
from prunescale.fragility.catalog import PREDICTORS, Predictor
from prunescale.generate.base import BACKENDS, Backend
from prunescale.models.surgery import ADAPTERS, Adapter
from prunescale.prune import METHODS, PruneMethod
from prunescale.report.figures.base import Plot, register_figure
from prunescale.tasks.base import TASKS, Task


@METHODS.register("toy-method")
class ToyMethod(PruneMethod):
    """Removes the first layers: a toy."""

    def choose(self, model, n, scores):
        return list(range(n))


@TASKS.register("toy-task")
class ToyTask(Task):
    def load(self, data=None, limit=None):
        return []

    def extract(self, response):
        return response.strip() or None


@BACKENDS.register("toy-backend")
class ToyBackend(Backend):
    pass


@ADAPTERS.register("toy_arch")
class ToyAdapter(Adapter):
    pass


@register_figure("toy-figure", "A toy figure", order=999)
def toy_figure(data, model):
    return Plot(f"toy-figure-{model}", "toy-figure", "A toy figure", "", None, reason="a toy")


@COMMANDS.register("toy", order=1000)
def register(sub):
    sub.add_parser("toy", help="a toy command").set_defaults(func=lambda args: 0)


PREDICTORS.register("toy_predictor")(Predictor(order=1000, label="toy predictor", compute=lambda ref, stats: 0.5))
'''


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """The package ``toyplug`` with one entry point per kind, installed on sys.path (after every registry has been
    isolated: what the toy registers is gone after the test)."""
    (tmp_path / "toyplug.py").write_text(TOY)
    dist = tmp_path / "toyplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("".join(f"[prunescale.{group}]\ntoy = toyplug\n\n" for group in REGISTRIES))
    with contextlib.ExitStack() as stack:
        for registry in REGISTRIES.values():
            stack.enter_context(registry.isolated())
        monkeypatch.syspath_prepend(str(tmp_path))
        yield
        sys.modules.pop("toyplug", None)


def test_every_kind_reads_its_entry_points():
    assert {r.group for r in REGISTRIES.values()} == {f"prunescale.{g}" for g in REGISTRIES}


def test_a_plugin_of_each_kind_is_listed_where_users_look(toy_plugin):
    assert "toy-method" in METHODS.names()
    parser, commands = build_parser()
    assert "toy-method" in commands["prune"].format_help() and "toy" in commands
    assert list(commands).index("toy") == len(commands) - 1      # order=1000: last in `prunescale --help`
    assert "toy-task" in TASKS.names() and TASKS.get("toy-task")().extract(" 7 ") == "7"
    assert "toy-backend" in BACKENDS.names()
    assert "toy_arch" in ADAPTERS.names()
    model = types.SimpleNamespace(config=types.SimpleNamespace(model_type="toy_arch"))
    assert type(adapter_for(model)).__name__ == "ToyAdapter"
    assert [f.id for f in figure_families()][-1] == "toy-figure"
    assert predictor_names()[-1] == "toy_predictor" and plotted()[-1] == ("toy_predictor", "toy predictor")


def test_the_toys_are_gone_afterwards():
    assert "toy-method" not in METHODS.names() and "toy" not in build_parser()[1]
    assert "toy_predictor" not in predictor_names() and "toy-figure" not in [f.id for f in figure_families()]


def test_a_registry_imports_every_module_of_its_package(tmp_path, monkeypatch):
    pkg = tmp_path / "toypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from prunescale.registry import Registry\n"
                                     "THINGS = Registry('thing', package='toypkg', skip=('broken',))\n")
    for name in ("alpha", "beta"):
        (pkg / f"{name}.py").write_text(textwrap.dedent(f"""
            from . import THINGS

            @THINGS.register("{name}", order={'2' if name == 'alpha' else '1'})
            class Thing:
                pass
            """))
    (pkg / "broken.py").write_text("raise ImportError('never imported: skipped')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import toypkg

        assert toypkg.THINGS.names() == ["alpha", "beta"]
        assert [t.name for t in toypkg.THINGS.ordered()] == ["beta", "alpha"]   # by order, then name
        with pytest.raises(Exception, match="unknown thing 'gamma'.*alpha, beta"):
            toypkg.THINGS.get("gamma")
    finally:
        for m in [m for m in sys.modules if m == "toypkg" or m.startswith("toypkg.")]:
            del sys.modules[m]


def test_a_declared_entry_loads_on_discovery(tmp_path, monkeypatch):
    (tmp_path / "toydecl.py").write_text("def run():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("thing")
    reg.declare("run", "toydecl:run", order=3)
    reg.declare("absent", "toydecl_absent:run")     # a module missing from a partial install: skipped
    try:
        assert reg.get("run").order == 3 and reg.names() == ["run"]
    finally:
        sys.modules.pop("toydecl", None)
