#!/usr/bin/python3
"""Draw charts from pathbench results folders.

    scripts/charts.py RESULTS_DIR [RESULTS_DIR ...]

For each folder: latency_spectrum.png (every path's percentile spectrum on one plot, x axis
1/(1-p) on a log scale as HdrHistogram's plotter draws it), latency_summary.png (p50/p99/p99.9
per path) and report.html tying the summary table and the charts together. Reads only
summary.csv and the *.hgrm files, so it can be re-run on any results folder.
"""
import csv
import html
import math
import os
import re
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
except ImportError:
    sys.exit("charts.py: matplotlib is missing; install Debian's package: sudo apt-get install python3-matplotlib")

HGRM_ROW = re.compile(r"^\s*([0-9.]+)\s+([0-9.]+)\s+([0-9]+)\s*([0-9.]+|inf)?\s*$")


def read_hgrm(path):
    """(value_us, percentile 0..1) rows of an HdrHistogram percentile-distribution file."""
    rows = []
    with open(path) as f:
        for line in f:
            m = HGRM_ROW.match(line)
            if m:
                rows.append((float(m.group(1)), float(m.group(2))))
    return rows


def read_summary(folder):
    with open(os.path.join(folder, "summary.csv"), newline="") as f:
        return list(csv.DictReader(f))


def hgrm_name(row, measured_phases, variant=""):
    name = row["path"]
    if not (measured_phases == 1 and row["phase"] == "main"):
        name += "." + row["phase"]
    if variant:
        name += "." + variant
    return name + ".hgrm"


def spectrum_chart(folder, rows, out):
    phases_per_path = {}
    for r in rows:
        phases_per_path[r["path"]] = phases_per_path.get(r["path"], 0) + 1
    fig, ax = plt.subplots(figsize=(10, 6))
    drawn = 0
    for r in rows:
        f = os.path.join(folder, hgrm_name(r, phases_per_path[r["path"]]))
        if not os.path.exists(f):
            continue
        points = [(1.0 / (1.0 - p), v) for v, p in read_hgrm(f) if p < 1.0]
        if not points:
            continue
        label = r["path"] if phases_per_path[r["path"]] == 1 else f'{r["path"]} ({r["phase"]})'
        line, = ax.plot([x for x, _ in points], [y for _, y in points], label=label, linewidth=1.8)
        drawn += 1
        # The same requests timed from their actual send: the gap is coordinated omission.
        u = os.path.join(folder, hgrm_name(r, phases_per_path[r["path"]], "uncorrected"))
        if os.path.exists(u):
            upoints = [(1.0 / (1.0 - p), v) for v, p in read_hgrm(u) if p < 1.0]
            ax.plot([x for x, _ in upoints], [y for _, y in upoints], linestyle="--", linewidth=1,
                    color=line.get_color(), alpha=0.7, label=f"{label} (from actual send)")
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [1, 2, 10, 100, 1000, 10000, 100000]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _: f"{100 - 100 / x:g}%" if x > 1 else "0%"))
    ax.set_xlabel("percentile (log scale of 1/(1-p))")
    ax.set_ylabel("latency from intended send time (µs, log scale)")
    ax.set_title("Latency by percentile — every path, coordinated omission corrected")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="path")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def summary_chart(rows, out):
    labels = [r["path"] if r["phase"] == "main" else f'{r["path"]}\n{r["phase"]}' for r in rows]
    metrics = [("p50_us", "p50"), ("p99_us", "p99"), ("p99.9_us", "p99.9")]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows) + 3), 5))
    width = 0.8 / len(metrics)
    for i, (key, name) in enumerate(metrics):
        values = [max(float(r[key]), 1e-3) for r in rows]
        xs = [k + (i - 1) * width for k in range(len(rows))]
        bars = ax.bar(xs, values, width, label=name)
        for b, v in zip(bars, values):
            ax.annotate(f"{v:.0f}" if v >= 10 else f"{v:.1f}", (b.get_x() + b.get_width() / 2, v),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels)
    ax.set_yscale("log")
    ax.set_ylabel("latency (µs, log scale)")
    ax.set_title("Latency percentiles per path")
    ax.legend()
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def report(folder, rows, charts):
    cols = ["path", "phase", "target_rate_per_s", "achieved_rate_per_s", "ok", "errors", "timeouts", "rejected",
            "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "accounting_ok"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in rows)
    imgs = "".join(f'<p><img src="{html.escape(c)}" alt="{html.escape(c)}"></p>' for c in charts)
    context = ""
    ctx_file = os.path.join(folder, "context.json")
    if os.path.exists(ctx_file):
        with open(ctx_file) as f:
            context = f"<details><summary>context.json</summary><pre>{html.escape(f.read())}</pre></details>"
    name = rows[0].get("scenario", "") if rows else ""
    with open(os.path.join(folder, "report.html"), "w") as f:
        f.write(f"""<!doctype html><html><head><meta charset="utf-8"><title>pathbench: {html.escape(name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:4px 8px;text-align:right}}th{{background:#f3f3f3}}img{{max-width:100%}}</style></head><body>
<h1>pathbench — {html.escape(name)}</h1><p>Latencies in µs, measured from each request's intended send time.</p>
<table><tr>{head}</tr>{body}</table>{imgs}{context}</body></html>
""")


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    status = 0
    for folder in argv[1:]:
        if not os.path.exists(os.path.join(folder, "summary.csv")):
            print(f"charts.py: {folder}: no summary.csv here (is it a pathbench results folder?)", file=sys.stderr)
            status = 2
            continue
        rows = [r for r in read_summary(folder) if r.get("failure", "") == "" and int(r["ok"] or 0) > 0]
        charts = []
        if rows and spectrum_chart(folder, rows, os.path.join(folder, "latency_spectrum.png")):
            charts.append("latency_spectrum.png")
        if rows:
            summary_chart(rows, os.path.join(folder, "latency_summary.png"))
            charts.append("latency_summary.png")
        report(folder, read_summary(folder), charts)
        print(f"charts: {', '.join(charts + ['report.html'])} in {folder}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
