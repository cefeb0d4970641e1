"""The report's chain-length view: accuracy kept by each pruned variant against the number of steps a chain needs."""

from __future__ import annotations

from .base import Index, Plot, absent, finish, fmt_num, line_handle, line_kw, log2_ticks, new_figure, no_data, \
    register_figure

TITLE = "Chain length: accuracy kept against the steps a problem needs"


@register_figure("chain_length", "Chain length", order=38)
def chain_length_figure(data: dict, model: str) -> Plot:
    ix = Index(data)
    lengths = _length_tasks(ix, model)
    base = ix.base(model)
    if len(lengths) < 2:
        return absent(data, model, "chain_length", "Chain length",
                      "fewer than two tasks with a fixed chain length (e.g. organism-chain:k=2 and k=8)")
    if not base:
        return absent(data, model, "chain_length", "Chain length", "no unpruned model to compare with")
    methods = ix.methods(model)
    if not methods:
        return absent(data, model, "chain_length", "Chain length", "no pruned variant")
    fig, axes = new_figure(1, len(methods), w=3.6, h=3.0)
    handles: dict = {}
    rows = []
    ks = sorted(lengths)
    for k in ks:
        t = lengths[k]
        a = ix.top_accuracy(base["id"], t)
        rows.append([base["variant"], k, t, ix.top(base["id"], t)[0], fmt_num(a), fmt_num(a), 1.0 if a else None])
    for j, m in enumerate(methods):
        ax = axes[0][j]
        drawn = False
        for v in ix.model_variants(model):
            if v.get("method") != m:
                continue
            pts = []
            for k in ks:
                t = lengths[k]
                a, b = ix.top_accuracy(v["id"], t), ix.top_accuracy(base["id"], t)
                kept = a / b if a is not None and b else None
                rows.append([v["variant"], k, t, ix.top(v["id"], t)[0], fmt_num(a), fmt_num(b), fmt_num(kept)])
                if kept is not None:
                    pts.append((k, kept))
            if pts:
                kw = line_kw(v)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], **kw)
                handles.setdefault(kw["label"], line_handle(v))
                drawn = True
        if drawn:
            ax.axhline(1.0, color="#999999", linewidth=0.8, zorder=0)
            log2_ticks(ax, [float(k) for k in ks], [str(k) for k in ks])
            ax.set_xlabel("chain length (steps)", fontsize=9)
            ax.set_ylim(bottom=min(-0.04, ax.get_ylim()[0]))
            ax.grid(alpha=0.3)
        else:
            no_data(ax, "the unpruned accuracy is 0 or missing at every length")
        ax.set_title(m, fontsize=10)
        if j == 0:
            ax.set_ylabel("accuracy kept (pruned / unpruned)", fontsize=9)
    return finish(fig, handles, data, model, "chain_length", TITLE, "Chain length",
                  "Accuracy at each task's largest budget divided by the unpruned model's, for tasks whose problems "
                  "all need the same number of steps (one task per length; a greedy one where there are several). "
                  "A small damage per step compounds: a pruned model that keeps most one-step answers loses long "
                  "chains.", ["variant", "chain length", "task", "budget", "accuracy", "unpruned accuracy", "kept"],
                  rows)


def _length_tasks(ix: Index, model: str) -> dict[int, str]:
    """Chain length -> the task label measuring it (greedy preferred), over the model's long-chain tasks."""
    out: dict[int, str] = {}
    base = ix.base(model)
    for t in ix.task_labels(model):
        info = next((x for x in ix.tasks if x["label"] == t), {})
        k = info.get("chain_length")
        if not k or ix.kind(t) == "knowledge":
            continue
        if k not in out or (_greedy(ix, base, t) and not _greedy(ix, base, out[k])):
            out[k] = t
    return out


def _greedy(ix: Index, base: dict | None, label: str) -> bool:
    cell = ix.cell(base["id"], label) if base else None
    return bool(cell) and (cell.get("eval") or {}).get("temperature") == 0
