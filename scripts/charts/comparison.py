"""Charts across several results folders: comparison_spectrum.png and comparison_percentiles.png."""
import math
import os

from .load import hgrm_name, num, phases_per_path, spectrum_points
from .style import fmt_us_short, latency_log_axis, log_bar_limits, percentile_axis, plt, save


def run_labels(folders):
    """Each folder's name; where two share a name, parent/name."""
    names = [os.path.basename(os.path.normpath(os.path.abspath(f))) for f in folders]
    labels = []
    for f, n in zip(folders, names):
        if names.count(n) > 1:
            a = os.path.normpath(os.path.abspath(f))
            n = os.path.join(os.path.basename(os.path.dirname(a)), n)
        labels.append(n)
    return labels


def comparison_spectrum_chart(runs, out):
    """One panel per path found in two or more runs; in it, each run's spectrum of that path."""
    paths = []
    for _, _, rows, _ in runs:
        for r in rows:
            if r["path"] not in paths:
                paths.append(r["path"])
    shared = [p for p in paths if sum(any(r["path"] == p for r in rows) for _, _, rows, _ in runs) >= 2]
    if not shared:
        return False
    ncols = 1 if len(shared) == 1 else 2
    nrows = math.ceil(len(shared) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5 * ncols, 4.8 * nrows), squeeze=False)
    styles = ["-", "--", ":", "-."]
    drawn = 0
    for ax, p in zip([a for row in axes for a in row], shared):
        for i, (label, folder, rows, all_rows) in enumerate(runs):
            phases = phases_per_path(all_rows)
            mine = [r for r in rows if r["path"] == p]
            for j, r in enumerate(mine):
                f = os.path.join(folder, hgrm_name(r, phases[p]))
                if not os.path.exists(f):
                    continue
                points = spectrum_points(f)
                if not points:
                    continue
                name = f"{label}: {p}" + ("" if len(mine) == 1 and r["phase"] == "main" else f' ({r["phase"]})')
                ax.plot([x for x, _ in points], [y for _, y in points], styles[j % len(styles)], color=f"C{i % 10}",
                        linewidth=1.8, label=name)
                drawn += 1
        percentile_axis(ax)
        latency_log_axis(ax)
        ax.set_ylabel("latency from intended send (log)")
        ax.set_title(p)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, title="run: path")
    for ax in [a for row in axes for a in row][len(shared):]:
        ax.axis("off")
    if not drawn:
        plt.close(fig)
        return False
    fig.suptitle("Latency by percentile, run against run — paths found in several runs (coordinated omission "
                 "corrected)", fontsize=12)
    fig.tight_layout()
    save(fig, out)
    return True


def comparison_keys(runs):
    keys = []
    for _, _, rows, _ in runs:
        for r in rows:
            if (r["path"], r["phase"]) not in keys:
                keys.append((r["path"], r["phase"]))
    return keys


def comparison_percentiles_chart(runs, out):
    keys = comparison_keys(runs)
    if not keys:
        return False
    lookup = [{(r["path"], r["phase"]): r for r in rows} for _, _, rows, _ in runs]
    fig, axes = plt.subplots(2, 1, figsize=(min(24, max(10, 0.5 * len(keys) * len(runs) + 4)), 9), sharex=True)
    width = 0.8 / len(runs)
    for ax, (metric, name) in zip(axes, [("p50_us", "p50 (median)"), ("p99_us", "p99")]):
        everything = []
        for i, (label, _, _, _) in enumerate(runs):
            xs, values = [], []
            for k, key in enumerate(keys):
                r = lookup[i].get(key)
                if r is not None and not math.isnan(num(r, metric)):
                    xs.append(k + (i - (len(runs) - 1) / 2) * width)
                    values.append(max(num(r, metric), 1e-3))
            everything += values
            bars = ax.bar(xs, values, width, color=f"C{i % 10}", label=label)
            for b, v in zip(bars, values):
                ax.annotate(fmt_us_short(v), (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom",
                            fontsize=7, rotation=90 if len(runs) > 2 else 0)
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([p if ph == "main" else f"{p}\n({ph})" for p, ph in keys], fontsize=8)
        latency_log_axis(ax)
        log_bar_limits(ax, everything, 3.0 if len(runs) > 2 else 1.8)
        ax.set_title(name)
        ax.grid(True, axis="y", which="major", alpha=0.3)
        ax.set_ylabel("latency from intended send (log)")
    axes[0].legend(title="run", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("p50 and p99 per path, one bar per run (lower is better; a missing bar: not in that run)",
                 fontsize=12)
    fig.tight_layout()
    save(fig, out)
    return True
