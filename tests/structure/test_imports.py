"""The package's structure: data flows one way (no import cycle, no import from a lower layer to a higher one),
nothing below cli/ parses arguments."""

from __future__ import annotations

import ast
from pathlib import Path

import prunescale

SRC = Path(prunescale.__file__).parent


def _module(path: Path, src: Path = SRC) -> tuple[str, list[str]]:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    package = parts[:-1]
    if parts[-1] == "__init__":
        parts = package
    return ".".join(parts), package


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the prunescale modules it imports, at any depth (imports inside functions count too)."""
    graph = {}
    for path in src.rglob("*.py"):
        name, package = _module(path, src)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    is_module = (src.parent / (sub.replace(".", "/") + ".py")).exists() or \
                        (src.parent / sub.replace(".", "/")).is_dir()
                    deps.add(sub if is_module else target)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d.startswith("prunescale") and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


# Bottom to top: a module may import its own layer and those below it, never one above (a function-level import
# counts: it is a dependency all the same). A new package or top-level module takes its place here.
LAYERS = ("errors", "__init__", "registry", "fileio", "sources", "options", "budgets", "stats", "contract", "models",
          "generate", "organism", "tasks", "prune", "scaling", "analysis", "train", "fragility", "report", "study", "cli",
          "__main__")


def layer(module: str) -> str:
    """``prunescale.report.collect`` -> ``report``; the package itself (its version) is ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(graph: dict[str, set[str]], layers=LAYERS) -> list[str]:
    """Every import from a lower layer to a higher one (or from / to a layer not declared), as text."""
    rank = {name: i for i, name in enumerate(layers)}
    out = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            a, b = layer(module), layer(dep)
            if a not in rank or b not in rank:
                out.append(f"{module} -> {dep}: layer {a if a not in rank else b!r} is not in LAYERS")
            elif rank[b] > rank[a]:
                out.append(f"{module} ({a}) -> {dep} ({b})")
    return out


def test_layer_check_finds_an_upward_import():
    graph = {"prunescale.report.collect": {"prunescale.contract.study_dir", "prunescale.study.spec"},
             "prunescale.study.run": {"prunescale.report"}, "prunescale.contract.study_dir": {"prunescale.fileio"},
             "prunescale.fileio": {"prunescale.errors"}, "prunescale.errors": set(),
             "prunescale.widgets.x": {"prunescale.errors"}}
    assert upward_imports(graph) == [
        "prunescale.report.collect (report) -> prunescale.study.spec (study)",
        "prunescale.widgets.x -> prunescale.errors: layer 'widgets' is not in LAYERS"]


def test_no_import_from_a_lower_layer_to_a_higher_one():
    assert upward_imports(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_prunescale_modules():
    graph = import_graph()
    assert "prunescale.study.executors" in graph and "prunescale.study.cells" in graph["prunescale.study.executors"]
    assert cycles(graph) == []


def test_study_uses_the_library_not_the_cli():
    graph = import_graph()
    assert not any(d.startswith("prunescale.cli") for d in graph["prunescale.study.variants"])
    below_cli = [m for m in graph if not m.startswith(("prunescale.cli", "prunescale.__main__"))]
    assert [m for m in below_cli if any(d.startswith("prunescale.cli") for d in graph[m])] == []


def test_no_argparse_below_cli():
    users = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
             if p.parent.name != "cli" and "argparse" in p.read_text(encoding="utf-8")]
    assert users == []
