"""Latency charts of one results folder: latency_spectrum.png (every path's percentile spectrum),
latency_summary.png (p50/p99/p99.9 bars) and throughput_latency.png (latency against achieved rate)."""
import os

from .load import hgrm_name, num, phases_per_path, row_label, spectrum_points
from .style import fmt_us_short, latency_log_axis, log_bar_limits, percentile_axis, plt, save


def spectrum_chart(folder, rows, out, all_rows):
    phases = phases_per_path(all_rows)
    fig, ax = plt.subplots(figsize=(13, 6.5))
    drawn = 0
    for r in rows:
        f = os.path.join(folder, hgrm_name(r, phases[r["path"]]))
        if not os.path.exists(f):
            continue
        points = spectrum_points(f)
        if not points:
            continue
        label = row_label(r, phases)
        line, = ax.plot([x for x, _ in points], [y for _, y in points], label=label, linewidth=1.8)
        drawn += 1
        # The same requests timed from their actual send: the gap is coordinated omission.
        u = os.path.join(folder, hgrm_name(r, phases[r["path"]], "uncorrected"))
        if os.path.exists(u):
            upoints = spectrum_points(u)
            ax.plot([x for x, _ in upoints], [y for _, y in upoints], linestyle="--", linewidth=1,
                    color=line.get_color(), alpha=0.7, label=f"{label} (from actual send)")
    if not drawn:
        plt.close(fig)
        return False
    percentile_axis(ax)
    latency_log_axis(ax)
    ax.set_ylabel("latency from the intended send time (log scale)")
    ax.set_title("Latency by percentile — every path, coordinated omission corrected\n"
                 "solid: from the intended send time; dashed: the same requests from their actual send",
                 fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title="path", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save(fig, out)
    return True


def summary_chart(rows, out, all_rows):
    phases = phases_per_path(all_rows)
    labels = [row_label(r, phases).replace(" (", "\n(") for r in rows]
    metrics = [("p50_us", "p50 (median)"), ("p99_us", "p99"), ("p99.9_us", "p99.9")]
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(rows) + 4), 5.5))
    width = 0.8 / len(metrics)
    everything = []
    for i, (key, name) in enumerate(metrics):
        values = [max(num(r, key), 1e-3) for r in rows]
        everything += values
        xs = [k + (i - 1) * width for k in range(len(rows))]
        bars = ax.bar(xs, values, width, label=name)
        for b, v in zip(bars, values):
            ax.annotate(fmt_us_short(v), (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=9)
    latency_log_axis(ax)
    log_bar_limits(ax, everything, 1.6)
    ax.set_ylabel("latency from the intended send time (log scale)")
    ax.set_title("Latency percentiles per path (lower is better)")
    ax.legend(title="percentile", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    save(fig, out)


def throughput_chart(rows, out):
    """Paths with two or more measured phases: p50/p99 against achieved rate."""
    by_path = {}
    for r in rows:
        by_path.setdefault(r["path"], []).append(r)
    by_path = {p: sorted(rs, key=lambda r: num(r, "achieved_rate_per_s")) for p, rs in by_path.items() if len(rs) >= 2}
    if not by_path:
        return False
    fig, ax = plt.subplots(figsize=(11, 6.5))
    for i, (p, rs) in enumerate(by_path.items()):
        color = f"C{i % 10}"
        xs = [num(r, "achieved_rate_per_s") for r in rs]
        ax.plot(xs, [num(r, "p99_us") for r in rs], "-o", color=color, linewidth=1.8, label=f"{p} p99")
        ax.plot(xs, [num(r, "p50_us") for r in rs], "--s", color=color, linewidth=1.2, markersize=4,
                label=f"{p} p50")
        for r, x in zip(rs, xs):
            ax.annotate(r["phase"], (x, num(r, "p99_us")), textcoords="offset points", xytext=(4, 5), fontsize=7,
                        color=color)
    latency_log_axis(ax)
    ax.set_xlabel("achieved rate (requests completed ok per second)")
    ax.set_ylabel("latency from the intended send time (log scale)")
    ax.set_title("Throughput against latency — one point per measured phase (label: phase)\n"
                 "solid: p99, dashed: p50; where a line turns upward the path is saturating", fontsize=11)
    ax.set_xlim(left=0)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title="path, percentile", fontsize=8)
    fig.tight_layout()
    save(fig, out)
    return True
