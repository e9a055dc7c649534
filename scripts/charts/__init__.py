"""Draw charts from pathbench results folders.

    scripts/charts.py RESULTS_DIR [RESULTS_DIR ...] [--out DIR]

For each folder, from the files it holds (a chart whose input is missing is skipped):
  latency_spectrum.png    summary.csv + *.hgrm: every path's percentile spectrum on one plot,
                          x axis 1/(1-p) on a log scale as HdrHistogram's plotter draws it
  latency_summary.png     summary.csv: p50/p99/p99.9 per path and phase
  latency_over_time.png   timeseries.csv: p50 and p99 per second and path, phases shaded,
                          fault markers as labelled lines; achieved rate per second below
  backlog_over_time.png   timeseries.csv with a backlog column (messaging paths): messages
                          waiting in the broker per second and path, consumed and published
                          per second below, phases shaded
  throughput_latency.png  summary.csv with several phases (rates) for a path: p50/p99 against
                          the achieved rate, one line per path
  hops.png                hops.csv: where the time goes, mean per hop stacked per path
  kinds.png               summary.csv's per-kind rows: p50/p99 per request kind (heavy, point,
                          echo; a task's type) for each path and phase
  cpu.png                 summary.csv: CPU time per completed request, by role
  report.html             one self-contained page (charts embedded): objectives, warnings,
                          accounting, the summary with units, knee and fault tables, every chart,
                          hops, balancer, the machine and the scenario as run

With two or more folders, also comparison charts in --out DIR (default: the first folder's
parent): comparison_spectrum.png (the spectra of paths found in several runs, overlaid),
comparison_percentiles.png (p50 and p99 per path, one bar per run) and comparison.html.

Reads only the results files, so it can be re-run on any results folder.
Exit codes: 0 done, 2 a folder without summary.csv (the others are still drawn).
"""
# This docstring is charts.py's --help. The package: load (reading a results folder), style
# (matplotlib and the shared axes), latency, timeseries, breakdown (hops and CPU) and comparison
# (the charts, a module per family), report (the HTML pages), __main__ (the command line).
# scripts/charts.py is the entry point every caller uses; `python3 -m charts` in scripts/ also works.
