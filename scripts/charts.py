#!/usr/bin/python3
"""Draw charts from pathbench results folders.

    scripts/charts.py RESULTS_DIR [RESULTS_DIR ...] [--out DIR]

For each folder, from the files it holds (a chart whose input is missing is skipped):
  latency_spectrum.png    summary.csv + *.hgrm: every path's percentile spectrum on one plot,
                          x axis 1/(1-p) on a log scale as HdrHistogram's plotter draws it
  latency_summary.png     summary.csv: p50/p99/p99.9 per path and phase
  latency_over_time.png   timeseries.csv: p50 and p99 per second and path, phases shaded,
                          fault markers as labelled lines; achieved rate per second below
  throughput_latency.png  summary.csv with several phases (rates) for a path: p50/p99 against
                          the achieved rate, one line per path
  hops.png                hops.csv: where the time goes, mean per hop stacked per path
  report.html             the tables (summary, hops, balancer) and the charts with captions

With two or more folders, also comparison charts in --out DIR (default: the first folder's
parent): comparison_spectrum.png (the spectra of paths found in several runs, overlaid),
comparison_percentiles.png (p50 and p99 per path, one bar per run) and comparison.html.

Reads only the results files, so it can be re-run on any results folder.
Exit codes: 0 done, 2 a folder without summary.csv (the others are still drawn).
"""
import argparse
import csv
import html
import json
import math
import os
import re
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    from matplotlib.transforms import blended_transform_factory
except ImportError:
    sys.exit("charts.py: matplotlib is missing; install Debian's package: sudo apt-get install python3-matplotlib")

HGRM_ROW = re.compile(r"^\s*([0-9.]+)\s+([0-9.]+)\s+([0-9]+)\s*([0-9.]+|inf)?\s*$")
DPI = 110
# Stacked bottom to top, in the order a request meets them; their means add up to client_total's.
HOPS = [
    ("client_and_network", "client and network (client library, the wire both ways)", "#4c72b0"),
    ("balancer", "balancer (its own share: routing, forwarding)", "#dd8452"),
    ("worker_queue", "worker queue (waiting for a SQL thread; queue paths: time in the broker)", "#c44e52"),
    ("worker_sql", "worker SQL (running the query)", "#55a868"),
    ("worker_other", "worker other (decode, encode, bookkeeping)", "#8172b3"),
]
UNMEASURED_PHASES = ("warmup", "drain")


# ---------------------------------------------------------------- reading


def read_hgrm(path):
    """(value_us, percentile 0..1) rows of an HdrHistogram percentile-distribution file."""
    rows = []
    with open(path) as f:
        for line in f:
            m = HGRM_ROW.match(line)
            if m:
                rows.append((float(m.group(1)), float(m.group(2))))
    return rows


def read_csv(folder, name):
    """The rows of FOLDER/NAME as dicts, or None when the file is not there."""
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_summary(folder):
    return read_csv(folder, "summary.csv")


def num(row, key):
    """The cell as a float; nan when empty, absent or not a number."""
    try:
        return float(row.get(key, "") or "nan")
    except ValueError:
        return math.nan


def measured_ok(rows):
    """Rows of paths that ran and completed something: the only ones with latencies to draw."""
    return [r for r in rows if r.get("failure", "") == "" and num(r, "ok") > 0]


def phases_per_path(rows):
    counts = {}
    for r in rows:
        counts[r["path"]] = counts.get(r["path"], 0) + 1
    return counts


def hgrm_name(row, measured_phases, variant=""):
    # As report/writer.cpp names them: the phase is left out when it is the only one, "main".
    name = row["path"]
    if not (measured_phases == 1 and row["phase"] == "main"):
        name += "." + row["phase"]
    if variant:
        name += "." + variant
    return name + ".hgrm"


def row_label(row, phases):
    return row["path"] if phases.get(row["path"], 1) == 1 and row["phase"] == "main" else f'{row["path"]} ({row["phase"]})'


def spectrum_points(file):
    return [(1.0 / (1.0 - p), v) for v, p in read_hgrm(file) if p < 1.0]


# ---------------------------------------------------------------- axes


def fmt_us(v, _=None):
    """A latency in µs as a tick label: 500 µs, 2 ms, 1.5 s."""
    if v <= 0:
        return ""
    if v >= 1e6:
        return f"{v / 1e6:g} s"
    if v >= 1000:
        return f"{v / 1000:g} ms"
    return f"{v:g} µs"


def fmt_us_short(v):
    """A bar's value label: three significant digits (1.68 ms, 203 µs)."""
    if v >= 1e6:
        return f"{v / 1e6:.3g} s"
    if v >= 1000:
        return f"{v / 1000:.3g} ms"
    return f"{v:.3g} µs"


def latency_log_axis(ax, axis="y"):
    """Log scale with ticks at 1, 2, 5 × 10^k labelled in µs / ms / s."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(fmt_us))
    target.set_minor_formatter(NullFormatter())


def log_bar_limits(ax, values, headroom=2.0):
    """On a log axis bars grow from the bottom edge: put it well below the smallest bar and leave
    room above the tallest for its label."""
    values = [v for v in values if v > 0 and not math.isnan(v)]
    if values:
        ax.set_ylim(min(values) / 2.5, max(values) * headroom)


def percentile_axis(ax):
    ax.set_xscale("log")
    ticks = [1, 2, 10, 100, 1000, 10000, 100000]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 - 100 / x:g}%" if x > 1 else "0%"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    # Fixed ticks would stretch the axis to 99.999 % whatever the data: end just past the last point.
    ax.set_xlim(0.8, max(ax.dataLim.x1 * 1.6, 12))
    ax.set_xlabel("percentile (log scale of 1/(1-p): each step right is 10× rarer)")


def save(fig, out):
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------- one folder


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


def phase_spans(series):
    """[(phase, start_s, end_s)] over every path's rows, in time order."""
    spans = {}
    for r in series:
        t = num(r, "time_s")
        if math.isnan(t):
            continue
        lo, hi = spans.get(r["phase"], (t, t + 1))
        spans[r["phase"]] = (min(lo, t), max(hi, t + 1))
    return sorted(((p, lo, hi) for p, (lo, hi) in spans.items()), key=lambda s: (s[1], s[2]))


def timeseries_chart(series, out):
    paths = list(dict.fromkeys(r["path"] for r in series))
    if not paths:
        return False
    fig, (lat, rate) = plt.subplots(2, 1, sharex=True, figsize=(13, 8.5), gridspec_kw={"height_ratios": [2, 1]})
    colors = {p: f"C{i % 10}" for i, p in enumerate(paths)}

    def not_ok(r):
        return sum(v for v in (num(r, "errors"), num(r, "timeouts"), num(r, "rejected")) if not math.isnan(v))

    # Failures get their own scale on the right: a dozen errors would vanish under thousands ok.
    failing = [p for p in paths if any(not_ok(r) > 0 for r in series if r["path"] == p)]
    bad_axis = rate.twinx() if failing else None
    for p in paths:
        rows = sorted((r for r in series if r["path"] == p), key=lambda r: num(r, "time_s"))
        # Plotted at the middle of each one-second bucket; a second with nothing completed has no latency.
        xs = [num(r, "time_s") + 0.5 for r in rows]
        done = [num(r, "completed") > 0 and num(r, "ok") > 0 for r in rows]
        mark = "o" if len(rows) <= 40 else None
        p99 = [num(r, "p99_us") if d else math.nan for r, d in zip(rows, done)]
        p50 = [num(r, "p50_us") if d else math.nan for r, d in zip(rows, done)]
        lat.plot(xs, p99, "-", color=colors[p], marker=mark, markersize=3, linewidth=1.8, label=f"{p} p99")
        lat.plot(xs, p50, "--", color=colors[p], marker=mark, markersize=3, linewidth=1.2, label=f"{p} p50")
        rate.plot(xs, [num(r, "achieved_rate_per_s") for r in rows], "-", color=colors[p], marker=mark, markersize=3,
                  label=f"{p} ok/s")
        if p in failing:
            bad_axis.plot(xs, [not_ok(r) for r in rows], ":", color=colors[p], marker="x", markersize=5,
                          label=f"{p} not ok/s (right axis)")

    # Phases: the load is the same for every path, so their spans line up on this time axis.
    spans = phase_spans(series)
    top = blended_transform_factory(lat.transData, lat.transAxes)
    measured_shade = ["#e8f0fb", "#fbf1e3"]
    k = 0
    for i, (phase, lo, hi) in enumerate(spans):
        unmeasured = phase in UNMEASURED_PHASES
        color = "#dddddd" if unmeasured else measured_shade[k % 2]
        k += 0 if unmeasured else 1
        for ax in (lat, rate):
            ax.axvspan(lo, hi, color=color, alpha=0.6 if unmeasured else 0.9, zorder=0, linewidth=0)
            if i > 0:
                ax.axvline(lo, color="#888888", linewidth=0.8, zorder=1)
        lat.text((lo + hi) / 2, 0.99, phase + (" (not measured)" if unmeasured and hi - lo >= 2 else ""),
                 transform=top, ha="center", va="top", fontsize=8, color="#444444")

    # Fault markers: a vertical line each, labelled with the marker's text.
    seen = set()
    for r in series:
        text = (r.get("marker") or "").strip()
        t = num(r, "time_s")
        if not text or math.isnan(t) or (t, text) in seen:
            continue
        seen.add((t, text))
        for ax in (lat, rate):
            ax.axvline(t, color="#d62728", linestyle="-.", linewidth=1.4, zorder=3)
        lat.text(t, 0.93, f"fault: {text} ", transform=top, rotation=90, ha="right", va="top", fontsize=8,
                 color="#d62728")

    latency_log_axis(lat)
    lat.set_ylabel("latency in that second (log scale)")
    lat.set_title("Latency and throughput over time — per second since each path's start\n"
                  "solid: p99, dashed: p50; shaded: load phases; red dash-dot lines: injected faults", fontsize=11)
    lat.grid(True, which="major", alpha=0.3)
    lat.legend(loc="upper left", bbox_to_anchor=(1.08 if failing else 1.01, 1.0), fontsize=8,
               title="path, percentile")
    rate.set_ylabel("requests per second")
    rate.set_xlabel("seconds since the path started (paths run one after another, each on the same load)")
    rate.set_ylim(bottom=0)
    rate.grid(True, alpha=0.3)
    handles, labels = rate.get_legend_handles_labels()
    if bad_axis is not None:
        bad_axis.set_ylabel("not ok per second\n(errors + timeouts + rejected)", fontsize=8)
        bad_axis.set_ylim(bottom=0)
        more_handles, more_labels = bad_axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    rate.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.08 if bad_axis else 1.01, 1.0), fontsize=8,
                title="completed per second")
    fig.tight_layout()
    save(fig, out)
    return True


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


def hops_chart(hops, out, all_rows):
    groups = list(dict.fromkeys((r["path"], r["phase"]) for r in hops))
    if not groups:
        return False
    phases = phases_per_path(all_rows) if all_rows else {}
    by_key = {(r["path"], r["phase"], r["hop"]): r for r in hops}
    fig, ax = plt.subplots(figsize=(max(11, 2.2 * len(groups) + 7), 6.5))

    def mean(key):
        v = num(by_key[key], "mean_us") if key in by_key else 0.0
        return 0.0 if math.isnan(v) else v

    stacks = [sum(mean((p, ph, hop)) for hop, _, _ in HOPS) for p, ph in groups]
    tallest = max(stacks + [mean((p, ph, "client_total")) for p, ph in groups])
    bottoms = [0.0] * len(groups)
    for hop, description, color in HOPS:
        values = [mean((p, ph, hop)) for p, ph in groups]
        if not any(values):
            continue
        bars = ax.bar(range(len(groups)), values, 0.55, bottom=bottoms, color=color, label=description)
        for b, v, base in zip(bars, values, bottoms):
            if v >= 0.04 * tallest:
                ax.text(b.get_x() + b.get_width() / 2, base + v / 2, f"{v:.0f}", ha="center", va="center",
                        fontsize=8, color="white")
        bottoms = [b + v for b, v in zip(bottoms, values)]
    # The client's own mean from actual send: the stack should reach it.
    for i, (p, ph) in enumerate(groups):
        total = by_key.get((p, ph, "client_total"))
        if total is None:
            continue
        t = num(total, "mean_us")
        ax.plot([i - 0.36, i + 0.36], [t, t], color="black", linewidth=2)
        ax.annotate(f"client total {t:.0f} µs", (i, max(t, bottoms[i])), textcoords="offset points", xytext=(0, 4),
                    ha="center", fontsize=8)
    ax.plot([], [], color="black", linewidth=2, label="client total: mean from actual send to reply")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([p if phases.get(p, 1) == 1 and ph == "main" else f"{p}\n({ph})" for p, ph in groups],
                       fontsize=9)
    ax.set_ylabel("mean time per request (µs)")
    ax.set_ylim(0, tallest * 1.2 or 1)
    ax.set_title("Where the time goes — mean time per hop, stacked (µs)\nthe stack adds up to client_total's mean, "
                 "timed from the actual send (queueing before the send is not in it)", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="hop, bottom to top")
    fig.tight_layout()
    save(fig, out)
    return True


CPU_GROUPS = [
    ("client", "load generator (client threads)", "#4C72B0"),
    ("grpc", "gRPC runtime threads (shared by client, balancer, workers)", "#DD8452"),
    ("worker", "worker SQL threads", "#55A868"),
    ("balancer", "balancer health checks", "#C44E52"),
    ("echo", "TCP echo server", "#8172B3"),
    ("broker", "embedded broker (native server, HTTP/WebSocket front)", "#DA8BC3"),
    ("other", "other pathbench threads", "#937860"),
]


def cpu_chart(rows, out, all_rows):
    """CPU µs per request by role group, stacked, with the process total marked."""
    if not rows or "cpu_total_us_per_req" not in rows[0]:
        return False
    # One bar per path: the CPU columns cover the path's whole run, so its phases share them.
    seen, bars = set(), []
    for r in rows:
        if r["path"] not in seen:
            seen.add(r["path"])
            bars.append(r)
    if not any(num(r, "cpu_total_us_per_req") > 0 for r in bars):
        return False
    fig, ax = plt.subplots(figsize=(max(9, 1.8 * len(bars) + 6), 6))
    bottoms = [0.0] * len(bars)
    for group, description, color in CPU_GROUPS:
        values = [max(num(r, f"cpu_{group}_us_per_req"), 0.0) for r in bars]
        values = [0.0 if math.isnan(v) else v for v in values]
        if not any(values):
            continue
        ax.bar(range(len(bars)), values, 0.55, bottom=bottoms, color=color, label=description)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    for i, r in enumerate(bars):
        t = num(r, "cpu_total_us_per_req")
        ax.plot([i - 0.36, i + 0.36], [t, t], color="black", linewidth=2)
        ax.annotate(f"process {t:.0f} µs", (i, max(t, bottoms[i])), textcoords="offset points", xytext=(0, 4),
                    ha="center", fontsize=8)
    ax.plot([], [], color="black", linewidth=2, label="whole process (getrusage), incl. threads that ended")
    ax.set_xticks(range(len(bars)))
    ax.set_xticklabels([r["path"] for r in bars], fontsize=9)
    ax.set_ylabel("CPU time per completed request (µs)")
    ax.set_title("What a request costs — CPU µs per request by role, stacked\n(every role runs in this one process, "
                 "on the same cores; warm-up and drain included)", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="threads")
    fig.tight_layout()
    save(fig, out)
    return True


# ---------------------------------------------------------------- several folders


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


# ---------------------------------------------------------------- HTML

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}table{border-collapse:collapse;
margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:90%}
th{background:#f3f3f3}td.text{text-align:left}img{max-width:100%;border:1px solid #eee}
figure{margin:1.5em 0}figcaption{color:#444;max-width:1000px}.note{color:#555;max-width:1000px}
.worse{color:#b00}.better{color:#070}"""

SUMMARY_COLUMNS = [
    ("path", "path", "the request path: transport and route (direct or via the balancer)"),
    ("phase", "phase", "the measured phase of the load (main, or a step of a shaped load)"),
    ("target_rate_per_s", "target /s", "the intended request rate (open loop)"),
    ("achieved_rate_per_s", "achieved /s", "requests completed ok per second"),
    ("ok", "ok", "requests answered correctly"),
    ("errors", "errors", "requests that failed (by kind in summary.csv's err_* columns)"),
    ("timeouts", "timeouts", "requests without a reply before their deadline"),
    ("rejected", "rejected", "requests refused by admission control"),
    ("p50_us", "p50 µs", "median latency"),
    ("p90_us", "p90 µs", "90th percentile"),
    ("p99_us", "p99 µs", "99th percentile: 1 request in 100 is slower"),
    ("p99.9_us", "p99.9 µs", "99.9th percentile"),
    ("max_us", "max µs", "slowest request"),
    ("mean_us", "mean µs", "mean latency"),
    ("accounting_ok", "accounting", "issued = ok + errors + timeouts + rejected held"),
]


def summary_columns(rows):
    """SUMMARY_COLUMNS, plus partial and failure when a row needs them."""
    columns = list(SUMMARY_COLUMNS)
    if any(r.get("partial") == "true" for r in rows):
        columns.append(("partial", "partial", "the run was interrupted: these numbers cover only part of it"))
    if any(r.get("failure") for r in rows):
        columns.append(("failure", "failure", "why the path could not run"))
    return columns


def cell(value):
    """Numbers to a readable precision; text escaped."""
    text = "" if value is None else str(value)
    try:
        v = float(text)
    except ValueError:
        return f'<td class="text">{html.escape(text)}</td>'
    if math.isfinite(v) and "." in text:
        text = f"{v:.0f}" if v == int(v) else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return f"<td>{html.escape(text)}</td>"


def table(rows, columns):
    head = "".join(f'<th title="{html.escape(tip)}">{html.escape(name)}</th>' for _, name, tip in columns)
    body = "".join("<tr>" + "".join(cell(r.get(key, "")) for key, _, _ in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def figure(png, caption):
    return (f'<figure><a href="{html.escape(png)}"><img src="{html.escape(png)}" alt="{html.escape(png)}"></a>'
            f"<figcaption>{caption}</figcaption></figure>")


CAPTIONS = {
    "latency_spectrum.png": "Every request's latency, sorted: read a point as “this share of requests took at most "
                            "this long”. The right end is the rare slow requests (the tail). Solid lines time each "
                            "request from when it was <em>meant</em> to be sent; dashed lines from when it was "
                            "actually sent — a gap between them is queueing the client itself caused.",
    "latency_summary.png": "Median (p50), p99 and p99.9 for each path on a log scale. Lower is better.",
    "latency_over_time.png": "Each second of each path's run: p99 (solid) and p50 (dashed) latency above, requests "
                             "completed per second below. Shaded bands are the load's phases (grey ones, warm-up "
                             "and drain, are not in the results); red lines mark injected faults.",
    "throughput_latency.png": "Each point is one measured phase (one offered rate): how fast the path went against "
                              "how slow its requests were. A line that bends upward shows where the path saturates.",
    "cpu.png": "CPU time each completed request cost, by the threads that spent it. gRPC's own threads serve the "
               "client, the balancer and the workers alike, so they are one group.",
    "hops.png": "Where a request's time went, on average: the client and the network, the balancer's own work, "
                "the wait for a worker's SQL thread, the query itself and the rest of the worker. The stack adds up "
                "to the client's mean measured from the actual send.",
}

HOPS_COLUMNS = [
    ("path", "path", ""), ("phase", "phase", ""), ("hop", "hop", "part of the request's journey"),
    ("requests", "requests", "requests that reported this hop"), ("p50_us", "p50 µs", ""), ("p90_us", "p90 µs", ""),
    ("p99_us", "p99 µs", ""), ("mean_us", "mean µs", "means add up across hops; percentiles do not"),
]


def report(folder, rows, charts, hops, balancer):
    name = rows[0].get("scenario", "") if rows else ""
    facts = ""
    ctx_text = ""
    ctx_file = os.path.join(folder, "context.json")
    if os.path.exists(ctx_file):
        with open(ctx_file) as f:
            ctx_text = f.read()
        try:
            ctx = json.loads(ctx_text)
            b, m = ctx.get("build", {}), ctx.get("machine", {})
            facts = (f"<p class=note>Run {html.escape(str(ctx.get('started_utc', '')))} – "
                     f"{html.escape(str(ctx.get('finished_utc', '')))} UTC: <code>"
                     f"{html.escape(str(ctx.get('command_line', '')))}</code><br>pathbench "
                     f"{html.escape(str(ctx.get('pathbench_version', '')))}, commit "
                     f"{html.escape(str(b.get('git_commit', '')))}, {html.escape(str(b.get('build_type', '')))} "
                     f"build; {html.escape(str(m.get('cpu_model', '')))}, {html.escape(str(m.get('cores', '')))} "
                     f"cores, {html.escape(str(m.get('kernel', '')))}</p>")
            if b.get("warning"):
                facts += f"<p class=worse>{html.escape(str(b['warning']))}</p>"
        except ValueError:
            pass
    legend = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(tip)}</li>" for _, n, tip in SUMMARY_COLUMNS[2:])
    parts = [f"""<!doctype html><html><head><meta charset="utf-8"><title>pathbench: {html.escape(name)}</title>
<style>{STYLE}</style></head><body>
<h1>pathbench — {html.escape(name)}</h1>
<p class=note>pathbench sends the same load through each request path below (one path after another) and times
every request from the moment it was <em>meant</em> to be sent, so a client that falls behind cannot hide its
delay. Latencies are in microseconds (µs; 1,000 µs = 1 ms). Each path's summary.csv row counts every request it
issued: ok, errors, timeouts and rejected add up to what was issued.</p>{facts}
<h2>Summary</h2>{table(rows, summary_columns(rows))}
<details><summary>What the columns mean</summary><ul>{legend}</ul></details>"""]
    if charts:
        parts.append("<h2>Charts</h2>")
        parts.extend(figure(c, CAPTIONS.get(c, "")) for c in charts)
    if hops:
        parts.append("<h2>Hops: where the time went</h2><p class=note>Each server on the way reports how long it "
                     "held the request; the client and network share is what is left. Means add up to "
                     "client_total's (timed from the actual send); percentiles of parts do not add up.</p>")
        parts.append(table(hops, HOPS_COLUMNS))
    if balancer:
        cols = [(c, c, "") for c in balancer[0].keys()]
        parts.append("<h2>Balancer: requests per worker</h2>" + table(balancer, cols))
    if ctx_text:
        parts.append(f"<details><summary>context.json: how this run was made</summary><pre>"
                     f"{html.escape(ctx_text)}</pre></details>")
    parts.append("</body></html>\n")
    with open(os.path.join(folder, "report.html"), "w") as f:
        f.write("\n".join(parts))


def change_cell(base, value, lower_is_better):
    if math.isnan(value):
        return "<td>-</td>"
    text = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    if base is None or math.isnan(base):
        return f"<td>{text}</td>"
    if base == 0:
        change = "" if value == 0 else " (from 0)"
        return f"<td>{text}{change}</td>"
    pct = (value - base) / abs(base) * 100
    worse = pct > 0 if lower_is_better else pct < 0
    css = "worse" if worse and abs(pct) >= 5 else "better" if not worse and abs(pct) >= 5 else ""
    return f'<td class="{css}">{text} ({pct:+.1f}%)</td>'


def comparison_report(out_dir, runs, charts):
    keys = comparison_keys(runs)
    lookup = [{(r["path"], r["phase"]): r for r in all_rows} for _, _, _, all_rows in runs]
    metrics = [("achieved_rate_per_s", "achieved /s", False), ("p50_us", "p50 µs", True),
               ("p90_us", "p90 µs", True), ("p99_us", "p99 µs", True), ("p99.9_us", "p99.9 µs", True),
               ("max_us", "max µs", True), ("errors", "errors", True), ("timeouts", "timeouts", True)]
    head = "<tr><th>path</th><th>phase</th><th>metric</th>" + "".join(
        f"<th>{html.escape(label)}{' (baseline)' if i == 0 else ''}</th>" for i, (label, _, _, _) in enumerate(runs)) \
        + "</tr>"
    body = ""
    for path, phase in keys:
        for j, (metric, name, lower) in enumerate(metrics):
            row = f'<tr><td class="text">{html.escape(path) if j == 0 else ""}</td>' \
                  f'<td class="text">{html.escape(phase) if j == 0 else ""}</td><td class="text">{name}</td>'
            r0 = lookup[0].get((path, phase))
            base = num(r0, metric) if r0 is not None else None
            for i in range(len(runs)):
                r = lookup[i].get((path, phase))
                value = num(r, metric) if r is not None else math.nan
                row += change_cell(None if i == 0 else base, value, lower)
            body += row + "</tr>"
    links = "".join(
        f'<li><a href="{html.escape(os.path.relpath(os.path.join(folder, "report.html"), out_dir))}">'
        f"{html.escape(label)}</a> — {html.escape(os.path.abspath(folder))}</li>" for label, folder, _, _ in runs)
    imgs = "".join(figure(os.path.relpath(c, out_dir), "") for c in charts)
    with open(os.path.join(out_dir, "comparison.html"), "w") as f:
        f.write(f"""<!doctype html><html><head><meta charset="utf-8"><title>pathbench: comparison</title>
<style>{STYLE}</style></head><body><h1>pathbench — {len(runs)} runs compared</h1>
<p class=note>The first run is the baseline; every other run's value carries its change against it in parentheses
(red: worse by 5 % or more, green: better by 5 % or more). Latencies in µs from each request's intended send time;
'-' marks a path the run does not have. <code>pathbench compare</code> prints the same and can fail a CI job on a
threshold.</p><h2>Runs</h2><ul>{links}</ul>
<h2>Side by side</h2><table>{head}{body}</table><h2>Charts</h2>{imgs}</body></html>
""")


# ---------------------------------------------------------------- main


def draw_folder(folder):
    """The charts and report.html of one results folder; returns its summary rows (all and drawable)."""
    all_rows = read_summary(folder)
    rows = measured_ok(all_rows)
    charts = []
    if rows and spectrum_chart(folder, rows, os.path.join(folder, "latency_spectrum.png"), all_rows):
        charts.append("latency_spectrum.png")
    if rows:
        summary_chart(rows, os.path.join(folder, "latency_summary.png"), all_rows)
        charts.append("latency_summary.png")
    series = read_csv(folder, "timeseries.csv")
    if series and timeseries_chart(series, os.path.join(folder, "latency_over_time.png")):
        charts.append("latency_over_time.png")
    if rows and throughput_chart(rows, os.path.join(folder, "throughput_latency.png")):
        charts.append("throughput_latency.png")
    hops = read_csv(folder, "hops.csv")
    if hops and hops_chart(hops, os.path.join(folder, "hops.png"), all_rows):
        charts.append("hops.png")
    if rows and cpu_chart(rows, os.path.join(folder, "cpu.png"), all_rows):
        charts.append("cpu.png")
    report(folder, all_rows, charts, hops, read_csv(folder, "balancer.csv"))
    print(f"charts: {', '.join(charts + ['report.html'])} in {folder}")
    return all_rows, rows


def main(argv):
    parser = argparse.ArgumentParser(prog="charts.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, usage=argparse.SUPPRESS)
    parser.add_argument("folders", nargs="+", metavar="RESULTS_DIR")
    parser.add_argument("--out", metavar="DIR", help="where comparison charts go (default: the first folder's parent)")
    args = parser.parse_args(argv[1:])
    status = 0
    runs = []
    for folder, label in zip(args.folders, run_labels(args.folders)):
        if not os.path.exists(os.path.join(folder, "summary.csv")):
            print(f"charts.py: {folder}: no summary.csv here (is it a pathbench results folder?)", file=sys.stderr)
            status = 2
            continue
        all_rows, rows = draw_folder(folder)
        runs.append((label, folder, rows, all_rows))
    if len(runs) >= 2:
        out_dir = args.out or os.path.dirname(os.path.normpath(os.path.abspath(runs[0][1])))
        os.makedirs(out_dir, exist_ok=True)
        charts = []
        for name, draw in (("comparison_spectrum.png", comparison_spectrum_chart),
                           ("comparison_percentiles.png", comparison_percentiles_chart)):
            if draw(runs, os.path.join(out_dir, name)):
                charts.append(os.path.join(out_dir, name))
        comparison_report(out_dir, runs, charts)
        print(f"comparison: {', '.join([os.path.basename(c) for c in charts] + ['comparison.html'])} in {out_dir}")
    elif args.out:
        print("charts.py: --out is for comparison charts, which need two or more results folders", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
