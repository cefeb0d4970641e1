"""One owner per concept: each shared helper is defined in exactly one module, and everyone imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import prunescale

SRC = Path(prunescale.__file__).parent


def definers(name: str) -> list[str]:
    """The modules (relative paths) that define a function named ``name`` at any depth."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in ast.walk(tree)):
            out.append(str(path.relative_to(SRC)))
    return out


def test_statistics_have_one_home():
    for name in ("bootstrap_ci", "bootstrap_mean_ci", "bootstrap_rank_corr_ci", "pearson", "spearman", "ranks",
                 "rank_correlation", "mean", "_mean", "mean_in_order", "quantile", "_quantile"):
        assert definers(name) in ([], ["stats.py"]), name
    assert definers("cov_at_k") == ["scaling/metrics.py"]


def test_stats_is_bottom_level():
    """prunescale.stats imports the standard library, numpy and prunescale.errors only."""
    tree = ast.parse((SRC / "stats.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.module == "errors", node.module
        elif isinstance(node, ast.ImportFrom):
            assert not node.module.startswith("prunescale") or node.module == "prunescale.errors"
        elif isinstance(node, ast.Import):
            assert all(not a.name.startswith("prunescale") for a in node.names)


def test_cov_at_k_is_not_recomputed_inline():
    users = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
             if "any(" in (t := p.read_text(encoding="utf-8")) and "[:k]" in t and p.name != "metrics.py"]
    assert users == []


def test_answer_patterns_live_in_tasks_extract():
    for name in ("final_answer", "extract_math", "last_boxed", "boxed_spans", "boxed_contents", "boxed_answers"):
        assert definers(name) == ["tasks/extract.py"], name
    assert [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
            if "boxed" in p.read_text(encoding="utf-8") and "re.compile" in p.read_text(encoding="utf-8")
            and "\\\\boxed" in p.read_text(encoding="utf-8")] == ["tasks/extract.py"]


def test_atomic_directory_writes_go_through_fileio():
    assert definers("atomic_dir") == ["fileio.py"]
    assert [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
            if "mkdtemp(" in p.read_text(encoding="utf-8") and p.name != "fileio.py"] == []


def test_output_checks_have_one_home():
    """Where a command may write (issue 21): one owner, fileio.py; every command uses it."""
    for name in ("check_out_dir", "check_out_file", "out_dir_type", "out_file_type"):
        assert definers(name) == ["fileio.py"], name


def assigners(name: str) -> list[str]:
    """The modules that assign a module-level (or class-level) constant ``name``."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for n in ast.walk(tree):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AnnAssign) else []
            names = [t.id for tgt in targets for t in ([*tgt.elts] if isinstance(tgt, ast.Tuple) else [tgt])
                     if isinstance(t, ast.Name)]
            if name in names:
                out.append(str(path.relative_to(SRC)))
                break
    return out


def test_budgets_have_one_home():
    for name in ("parse_budget", "parse_budgets", "budget_key", "budget_label", "largest_budget", "to_store",
                 "from_store", "_budget_list"):
        assert definers(name) in ([], ["budgets.py"]), name
    assert assigners("NO_BUDGET") == ["budgets.py"]


def test_budget_forcing_states_have_one_home():
    for name in ("THINK", "ANSWER", "DONE"):
        assert [m for m in assigners(name) if m.startswith("generate/")] == ["generate/forcing.py"], name


def test_model_loading_rules_have_one_home():
    for name in ("dtype_name", "pick_dtype", "load_tokenizer", "load_config", "load_tokenizer_config"):
        assert definers(name) == ["models/loading.py"], name
    # the backends load through models.loading, not transformers' Auto classes of their own
    for backend in ("generate/hf.py", "generate/vllm_backend.py", "generate/openai_backend.py"):
        assert "AutoTokenizer.from_pretrained" not in (SRC / backend).read_text(encoding="utf-8"), backend


def test_directory_file_names_live_in_contract():
    """Run and study directory file names are spelled only in contract/ (everyone else uses its accessors)."""
    names = ('"results.sqlite"', '"summary.json"', '"analysis.json"', '"config.yaml"', '"prunescale.json"',
             '"study.sqlite"', '"cell.json"')
    users = sorted({str(p.relative_to(SRC)) for p in SRC.rglob("*.py") for n in names
                    if n in p.read_text(encoding="utf-8") and p.parent.name != "contract"})
    assert users == []
