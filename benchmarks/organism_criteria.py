"""Issue 24's criteria for an organism's weights, in one command: two studies (the unpruned model alone; shortgpt,
reverse, laco and chain removing 1 and 2 layers with their default calibrations), then every target checked.

Workload: 100 problems per chain setting (k = 1, 2, 4, 8, 16 greedy at full budget; k=8 greedy at budgets
16-128), all 128 facts, and on the unpruned model k=8 at T=1 (16 samples), mixed k=4-16 greedy at 10 budgets and
k=8 at T=1 with 0, 1 and 2 forced Waits. ``--seed`` draws other problems (the task's ``seed=``).
Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/organism_criteria.py [--model DIR] [--seed 0] [--out DIR]
Prints a table per study and one line per target: PASS / FAIL and the numbers it read.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from prunescale.contract.study_dir import CellInfo, StudyDir  # noqa: E402
from prunescale.organism.problems import chain_failure, pass_states  # noqa: E402
from prunescale.scaling.store import Store  # noqa: E402
from prunescale.study.headline import collect_cells  # noqa: E402

KS = (1, 2, 4, 8, 16)
BUDGETS_K8 = [16, 32, 40, 48, 64, 128]
MIXED = [16, 24, 32, 40, 48, 56, 64, 72, 80, 88]


def chain(k, seed):
    return f"organism-chain:k={k}" + (f",seed={seed}" if seed else "")


def facts(seed):
    return "organism-facts"   # the whole fixed table: the seed only orders it


def pruned_study(model, seed, n):
    tasks = [{"task": chain(k, seed), "label": f"k{k}", "budgets": [1024], "temperature": 0, "limit": n}
             for k in KS]
    tasks.append({"task": chain(8, seed), "label": "k8-budgets", "budgets": BUDGETS_K8, "temperature": 0, "limit": n})
    tasks.append({"task": facts(seed), "label": "facts", "kind": "knowledge", "budgets": [64], "temperature": 0,
                  "limit": 128})
    return {"name": "criteria-pruned", "models": [model], "methods": ["shortgpt", "reverse", "laco", "chain"],
            "remove": [1, 2], "prune": {"calibration_samples": 32}, "fragility": False, "analysis": False,
            "eval": {"batch_size": 100, "answer_tokens": 32}, "tasks": tasks}


def base_study(model, seed, n):
    mixed = "organism-chain:k=4-16" + (f",seed={seed}" if seed else "")
    tasks = [{"task": chain(8, seed), "label": f"t1-wait{w}", "budgets": [1024], "temperature": 1.0,
              "samples": 16 if w == 0 else 4, "waits": w, "limit": n, "batch_size": 128} for w in (0, 1, 2)]
    tasks.append({"task": mixed, "label": "mixed", "budgets": MIXED, "temperature": 0, "limit": n})
    return {"name": "criteria-base", "models": [model], "methods": [], "remove": [], "fragility": False,
            "analysis": False, "eval": {"batch_size": 100, "answer_tokens": 32}, "tasks": tasks}


def run(spec, out):
    out.mkdir(parents=True, exist_ok=True)
    path = out / "study.in.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    cmd = [sys.executable, "-m", "prunescale", "study", "run", str(path), "--out", str(out / "study"), "--no-report"]
    if subprocess.run(cmd).returncode:
        sys.exit(f"study failed: {' '.join(cmd)}")
    return out / "study"


def table(root):
    """{variant name: {task label: {budget: metrics}}}."""
    names = {vid: v.variant for vid, v in StudyDir(root).variants().items()}
    got = {}
    for c in collect_cells(root):
        got.setdefault(names.get(c.info.variant_id, c.info.variant_id), {})[c.info.task_label] = c.budgets
    return got


def failures(root):
    """{variant: {k: (early, late, answer, wrong step)}}: why the wrong full-budget answers are wrong. A pruned
    model that stops at the wrong step count has broken the chain's length bookkeeping, and one whose answer is
    not its last line has broken the copy, not a step; only the last column is the per-step damage that
    compounds."""
    lay = StudyDir(root)
    names = {vid: v.variant for vid, v in lay.variants().items()}
    got = {}
    for d in lay.cell_dirs():
        cell = lay.cell(d.name)
        if not (cell.cell_json.is_file() and cell.summary_json.is_file()):
            continue
        info = CellInfo.read(cell.cell_json)
        if not re.fullmatch(r"k\d+", info.task_label):
            continue
        k = int(info.task_label[1:])
        store = Store(cell.store, readonly=True)
        try:
            why = [chain_failure(r["text"], k) for r in store.rows(columns=["text", "correct"]) if not r["correct"]]
        finally:
            store.close()
        got.setdefault(names.get(info.variant_id, info.variant_id), {})[k] = tuple(
            why.count(w) for w in ("early", "late", "answer", "step"))
    return got


def passes(root, waits=(0, 1, 2)):
    """{Waits forced: [(samples with that many passes or more, share whose pass ends on the gold state)]} from the
    unpruned model's T = 1 cells: a Wait helps only while its pass is surer than the one it checks."""
    lay = StudyDir(root)
    got = {}
    for d in lay.cell_dirs():
        cell = lay.cell(d.name)
        if not cell.cell_json.is_file():
            continue
        label = CellInfo.read(cell.cell_json).task_label
        if not re.fullmatch(r"t1-wait\d", label) or int(label[-1]) not in waits:
            continue
        store = Store(cell.store, readonly=True)
        try:
            per = [(pass_states(r["thinking"]), r["gold"]) for r in store.rows(columns=["thinking", "gold"])]
        finally:
            store.close()
        most = max((len(p) for p, _ in per), default=0)
        got[int(label[-1])] = [(sum(len(p) > i for p, _ in per), sum(len(p) > i and p[i] == g for p, g in per))
                               for i in range(most)]
    return dict(sorted(got.items()))


def acc(t, variant, label, budget="1024", metric="accuracy"):
    vals = t[variant][label][budget]
    if "@" in metric:
        name, k = metric.split("@")
        return vals[f"{name}@k"][k]
    return vals[metric]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded:organism")
    ap.add_argument("--seed", type=int, default=0, help="problem seed of every chain task (0: the tasks' default)")
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("--out", default=None, help="where the two studies go (default: a temporary directory)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="organism-criteria-"))
    base_root = run(base_study(args.model, args.seed, args.problems), out / "base")
    base = table(base_root)["base"]
    pruned = run(pruned_study(args.model, args.seed, args.problems), out / "pruned")
    t = table(pruned)
    checks = []

    def check(name, ok, detail):
        checks.append(ok)
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")

    print("\nvariant      " + "  ".join(f"k={k:<3}" for k in KS) + "  facts   k8 at " + " ".join(map(str, BUDGETS_K8)))
    for v, row in t.items():
        ks = "  ".join(f"{acc(t, v, f'k{k}'):.2f} " for k in KS)
        bud = " ".join(f"{acc(t, v, 'k8-budgets', str(b)):.2f}" for b in BUDGETS_K8)
        print(f"{v:<12} {ks}  {acc(t, v, 'facts', '64'):.2f}    {bud}")
    print("\nwrong answers at full budget: stopped early / late / answer not the last line / a wrong step")
    print("variant      " + "  ".join(f"k={k:<11}" for k in KS))
    for v, row in failures(pruned).items():
        print(f"{v:<12} " + "  ".join("{:>2}/{:>2}/{:>2}/{:>2}   ".format(*row[k]) for k in KS if k in row))
    print("\nunpruned at T=1, k=8: samples that reach each pass / share of them whose pass ends right "
          "(pass 0: the forward steps)")
    for w, row in passes(base_root).items():
        print(f"--wait {w}   " + "  ".join(f"{i}: {n:>4} {ok / n:.2f}" for i, (n, ok) in enumerate(row) if n))
    print()
    b8, bf = acc(t, "base", "k8"), acc(t, "base", "facts", "64")
    check("base k=8 greedy >= 0.95", b8 >= 0.95, f"{b8:.2f}")
    check("base facts >= 0.95", bf >= 0.95, f"{bf:.2f}")
    p1, p16, m16 = (acc({"b": base}, "b", "t1-wait0", metric=m) for m in ("accuracy", "pass@16", "maj@16"))
    check("T=1 pass@1 in 0.5-0.9", 0.5 <= p1 <= 0.9, f"{p1:.2f}")
    check("pass@16 >= pass@1 + 0.15", p16 >= p1 + 0.15, f"{p16:.2f}")
    check("maj@16 >= pass@1 + 0.1", m16 >= p1 + 0.1, f"{m16:.2f}")
    curve = [base["mixed"][str(b)]["accuracy"] for b in MIXED]
    rises = sum(b > a for a, b in zip(curve, curve[1:]))
    check("mixed k=4-16 rises over >= 5 budget steps", rises >= 5, " ".join(f"{a:.2f}" for a in curve))
    w1, w2 = (base[f"t1-wait{w}"]["1024"]["accuracy"] for w in (1, 2))
    check("--wait 1 and --wait 2 >= no Wait + 0.05", min(w1, w2) >= p1 + 0.05,
          f"none {p1:.2f}, wait 1 {w1:.2f}, wait 2 {w2:.2f}")
    naive = ("shortgpt", "reverse", "laco")
    f1 = {m: acc(t, f"{m}-1", "facts", "64") for m in naive}
    check("1 layer: facts >= 0.9 x base, every method", all(f >= 0.9 * bf for f in f1.values()), str(f1))
    ret = {m: [acc(t, f"{m}-1", f"k{k}") / max(acc(t, "base", f"k{k}"), 1e-9) for k in KS] for m in naive}
    broke = [m for m in naive if acc(t, f"{m}-1", "k8") <= 0.6 * b8]
    check("1 layer: k=8 <= 0.6 x base for >= 2 methods", len(broke) >= 2, f"{broke}")
    falls = [m for m in broke if ret[m][1] > ret[m][3] and all(b <= a for a, b in zip(ret[m][1:], ret[m][2:]))]
    check("1 layer: retention falls with length (k=2..16) for those", len(falls) == len(broke) and len(broke) >= 2,
          "; ".join(f"{m} " + " ".join(f"{r:.2f}" for r in ret[m]) for m in naive))
    f2 = {m: acc(t, f"{m}-2", "facts", "64") for m in naive}
    check("2 layers: facts >= 0.7 x base for >= 2 methods", sum(f >= 0.7 * bf for f in f2.values()) >= 2, str(f2))
    k2 = {m: acc(t, f"{m}-2", "k8") for m in naive}
    check("2 layers: k=8 <= 0.3 x base, all three", all(v <= 0.3 * b8 for v in k2.values()), str(k2))
    gaps = {b: acc(t, "chain-2", "k8-budgets", str(b)) - max(acc(t, f"{m}-2", "k8-budgets", str(b)) for m in naive)
            for b in BUDGETS_K8 if b >= 40}
    check("chain-2 >= best naive + 0.3 at budgets >= 40", all(g >= 0.3 for g in gaps.values()),
          " ".join(f"{b}:{g:+.2f}" for b, g in gaps.items()))
    cf = acc(t, "chain-2", "facts", "64")
    check("chain-2 facts >= 0.9 x base", cf >= 0.9 * bf, f"{cf:.2f}")
    print(f"\n{sum(checks)}/{len(checks)} targets met; studies in {out}")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
