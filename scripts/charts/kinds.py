"""kinds.png: p50 and p99 per request kind (heavy vs point vs echo; a task's type) for each path
and phase, from summary.csv's per-kind rows (request_kind other than "all")."""
from .load import num, read_csv
from .style import fmt_us_short, latency_log_axis, log_bar_limits, plt, save


def kind_rows(folder):
    """summary.csv's per-kind rows that completed something, or []."""
    rows = read_csv(folder, "summary.csv") or []
    return [r for r in rows if r.get("request_kind", "all") not in ("", "all") and r.get("failure", "") == ""
            and num(r, "ok") > 0]


def kinds_chart(rows, out):
    """One group of bars per (path, phase), one p50 and one p99 bar per kind. False: nothing to draw."""
    if not rows:
        return False
    groups = []
    for r in rows:
        key = (r["path"], r["phase"])
        if key not in groups:
            groups.append(key)
    kinds = []
    for r in rows:
        if r["request_kind"] not in kinds:
            kinds.append(r["request_kind"])
    cell = {(r["path"], r["phase"], r["request_kind"]): r for r in rows}
    widest = max(sum(1 for k in kinds if (p, ph, k) in cell) for p, ph in groups)
    width = 0.8 / (2 * widest)
    fig, ax = plt.subplots(figsize=(max(8, 0.5 * sum(1 for _ in rows) * 2 + 4), 5.5))
    everything = []
    labelled = set()
    for g, (path, phase) in enumerate(groups):
        present = [k for k in kinds if (path, phase, k) in cell]
        n = 2 * len(present)
        j = 0
        for kind in present:
            r = cell[(path, phase, kind)]
            for key, name, hatch in (("p50_us", "p50", ""), ("p99_us", "p99", "//")):
                v = max(num(r, key), 1e-3)
                everything.append(v)
                label = f"{kind} {name}"
                b = ax.bar([g + (j - (n - 1) / 2) * width], [v], width, hatch=hatch, color=f"C{kinds.index(kind)}",
                           alpha=0.55 if hatch else 0.95, label=None if label in labelled else label)[0]
                labelled.add(label)
                ax.annotate(fmt_us_short(v), (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=7)
                j += 1
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([p if ph == "main" else f"{p}\n({ph})" for p, ph in groups], fontsize=9)
    latency_log_axis(ax)
    log_bar_limits(ax, everything, 1.6)
    ax.set_ylabel("latency from the intended send time (log scale)")
    ax.set_title("p50 and p99 per request kind (lower is better)")
    ax.legend(title="kind, percentile", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    save(fig, out)
    return True
