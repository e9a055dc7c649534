"""The command line: scripts/charts.py RESULTS_DIR [RESULTS_DIR ...] [--out DIR] (see the package's
docstring), also `python3 -m charts` from scripts/."""
import argparse
import os
import sys

import charts as package  # its docstring is the --help text
from charts.backlog import backlog_chart
from charts.breakdown import cpu_chart, hops_chart
from charts.kinds import kind_rows, kinds_chart
from charts.comparison import comparison_percentiles_chart, comparison_spectrum_chart, run_labels
from charts.latency import spectrum_chart, summary_chart, throughput_chart
from charts.load import measured_ok, read_csv, read_summary
from charts.report import comparison_report, report
from charts.timeseries import timeseries_chart


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
    if series and backlog_chart(series, os.path.join(folder, "backlog_over_time.png")):
        charts.append("backlog_over_time.png")
    if rows and throughput_chart(rows, os.path.join(folder, "throughput_latency.png")):
        charts.append("throughput_latency.png")
    hops = read_csv(folder, "hops.csv")
    if hops and hops_chart(hops, os.path.join(folder, "hops.png"), all_rows):
        charts.append("hops.png")
    if rows and cpu_chart(rows, os.path.join(folder, "cpu.png"), all_rows):
        charts.append("cpu.png")
    if kinds_chart(kind_rows(folder), os.path.join(folder, "kinds.png")):
        charts.append("kinds.png")
    report(folder, all_rows, charts, hops, read_csv(folder, "balancer.csv"), read_csv(folder, "knee.csv"),
           read_csv(folder, "knee_answer.csv"), read_csv(folder, "faults.csv"))
    print(f"charts: {', '.join(charts + ['report.html'])} in {folder}")
    return all_rows, rows


def main(argv):
    parser = argparse.ArgumentParser(prog="charts.py", description=package.__doc__,
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
