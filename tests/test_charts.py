#!/usr/bin/python3
"""scripts/charts.py on fixture results folders written here: every expected chart is a real,
non-empty PNG, report.html and comparison.html reference them, optional charts appear only when
their input exists, and a folder without summary.csv exits 2.

    /usr/bin/python3 tests/test_charts.py [--keep]
    (exit 0: all passed, 1: a check failed, 77: matplotlib is not installed - ctest's SKIP_RETURN_CODE)

--keep leaves the fixture folder in place and prints where, to look at the charts.
"""
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHARTS = os.path.join(HERE, "..", "scripts", "charts.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SUMMARY_HEADER = (
    "scenario,path,kind,via,phase,duration_s,target_rate_per_s,offered_rate_per_s,achieved_rate_per_s,issued,ok,"
    "errors,timeouts,rejected,err_unavailable,err_invalid_argument,err_server_error,err_transport_error,"
    "err_protocol_error,late,p50_us,p90_us,p99_us,p99.9_us,p99.99_us,max_us,mean_us,uncorrected_p50_us,"
    "uncorrected_p99_us,schedule_lag_p99_us,accounting_ok,partial,failure")

failures = []
checks = 0


def check(condition, what):
    global checks
    checks += 1
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def latency_at(p, median_us, spread):
    """A log-normal-ish latency at percentile p (0..1): median at p=0.5, a tail that grows with spread."""
    p = min(p, 0.999999)
    z = math.sqrt(2) * erfinv(2 * p - 1)
    return median_us * math.exp(spread * z)


def erfinv(y):
    # Winitzki's approximation: plenty for a fixture.
    a = 0.147
    ln = math.log(1 - y * y)
    t = 2 / (math.pi * a) + ln / 2
    return math.copysign(math.sqrt(math.sqrt(t * t - ln / a) - t), y)


def write_hgrm(path, median_us, spread, count=5000):
    lines = ["       Value     Percentile TotalCount 1/(1-Percentile)", ""]
    p, step = 0.0, 0.1
    while p < 0.99999:
        v = latency_at(p, median_us, spread) if p > 0 else median_us * 0.3
        inv = f"{1 / (1 - p):14.2f}"
        lines.append(f"{v:12.3f} {p:.12f} {max(1, int(p * count)):10d} {inv}")
        step = (1 - p) / 4
        p = p + step if p >= 0.5 else p + 0.1
    top = latency_at(0.99999, median_us, spread)
    lines.append(f"{top:12.3f} {1.0:.12f} {count:10d}")
    lines.append(f"#[Mean    = {median_us * 1.1:12.3f}, StdDeviation   = {median_us * spread:12.3f}]")
    lines.append(f"#[Max     = {top:12.3f}, Total count    = {count:12d}]")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def summary_row(path, kind, phase, rate, median_us, spread, errors=0, timeouts=0):
    ok = int(rate * 3) - errors - timeouts
    pct = {k: latency_at(p, median_us, spread) for k, p in
           (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999), ("p99.99", 0.9999))}
    return ",".join(str(x) for x in [
        "fixture", path, kind, "balancer" if "balancer" in path else "direct", phase, "3.000", f"{rate:.3f}",
        f"{rate:.3f}", f"{ok / 3:.3f}", ok + errors + timeouts, ok, errors, timeouts, 0, errors, 0, 0, 0, 0, 0,
        f"{pct['p50']:.3f}", f"{pct['p90']:.3f}", f"{pct['p99']:.3f}", f"{pct['p99.9']:.3f}", f"{pct['p99.99']:.3f}",
        f"{pct['p99.99'] * 1.05:.3f}", f"{median_us * 1.1:.3f}", f"{median_us * 0.9:.3f}", f"{pct['p99'] * 0.8:.3f}",
        "20.000", "true", "false", ""])


def make_stepped_run(folder):
    """Two paths, three rate steps each: every input charts.py reads, so every chart is drawn."""
    os.makedirs(folder)
    steps = [("low", 500), ("mid", 1000), ("high", 2000)]
    paths = [("tcp_echo", "tcp_echo", 80), ("grpc_unary_balancer", "grpc_unary", 700)]
    rows = []
    for path, kind, base in paths:
        for i, (phase, rate) in enumerate(steps):
            median = base * (1 + 0.4 * i * i)
            spread = 0.4 + 0.25 * i
            rows.append(summary_row(path, kind, phase, rate, median, spread, errors=3 if i == 2 else 0))
            write_hgrm(os.path.join(folder, f"{path}.{phase}.hgrm"), median, spread)
            write_hgrm(os.path.join(folder, f"{path}.{phase}.uncorrected.hgrm"), median * 0.9, spread * 0.7)
    with open(os.path.join(folder, "summary.csv"), "w") as f:
        f.write(SUMMARY_HEADER + "\n" + "\n".join(rows) + "\n")

    with open(os.path.join(folder, "hops.csv"), "w") as f:
        f.write("path,phase,hop,requests,p50_us,p90_us,p99_us,mean_us\n")
        for i, (phase, _) in enumerate(steps):
            parts = {"client_and_network": 250, "balancer": 180, "worker_queue": 40 * (1 + 3 * i), "worker_sql": 120,
                     "worker_other": 6}
            total = sum(parts.values())
            f.write(f"grpc_unary_balancer,{phase},client_total,1500,{total * 0.9:.3f},{total * 1.5:.3f},"
                    f"{total * 2.5:.3f},{total:.3f}\n")
            for hop, mean in parts.items():
                f.write(f"grpc_unary_balancer,{phase},{hop},1500,{mean * 0.9:.3f},{mean * 1.5:.3f},"
                        f"{mean * 2.5:.3f},{mean:.3f}\n")

    # One second per row from each path's start: 1 s warm-up, 3 s per step, a drain second; a
    # fault marker in the middle of the grpc path's "mid" step.
    with open(os.path.join(folder, "timeseries.csv"), "w") as f:
        f.write("path,phase,second,time_s,completed,ok,errors,timeouts,rejected,achieved_rate_per_s,p50_us,p99_us,"
                "max_us,in_flight,marker\n")
        for path, _, base in paths:
            schedule = [("warmup", 500)] + [s for s in steps for _ in range(3)]
            for second, (phase, rate) in enumerate(schedule):
                i = [s[0] for s in steps].index(phase) if phase in dict(steps) else 0
                fault = path.startswith("grpc") and second == 5
                p50 = base * (1 + 0.4 * i * i) * (3 if fault else 1)
                p99 = p50 * (4 + 2 * i)
                errors = 12 if fault else 0
                timeouts = 30 if fault else 0
                ok = rate - errors - timeouts
                marker = "kill worker-1" if fault else ""
                f.write(f"{path},{phase},{second},{second:.1f},{rate},{ok},{errors},{timeouts},0,{ok:.1f},{p50:.3f},{p99:.3f},"
                        f"{p99 * 1.3:.3f},{2 + i},{marker}\n")
            f.write(f"{path},drain,{len(schedule)},{len(schedule):.1f},3,3,0,0,0,3.0,{base:.3f},{base * 2:.3f},"
                    f"{base * 2:.3f},0,\n")

    with open(os.path.join(folder, "context.json"), "w") as f:
        f.write('{"pathbench_version": "0.1.0", "started_utc": "2026-01-01T00:00:00Z", '
                '"finished_utc": "2026-01-01T00:00:25Z", "command_line": "pathbench run fixture.toml", '
                '"build": {"git_commit": "fixture", "build_type": "Release", "warning": ""}, '
                '"machine": {"cpu_model": "test CPU", "cores": 2, "kernel": "Linux"}}\n')


def make_plain_run(folder, slower=1.0):
    """The same two paths, one measured phase "main": summary.csv and exactly two .hgrm files, nothing else."""
    os.makedirs(folder)
    with open(os.path.join(folder, "summary.csv"), "w") as f:
        f.write(SUMMARY_HEADER + "\n" + summary_row("tcp_echo", "tcp_echo", "main", 1000, 90 * slower, 0.5) + "\n" +
                summary_row("grpc_unary_balancer", "grpc_unary", "main", 1000, 650 * slower, 0.6 * slower) + "\n")
    write_hgrm(os.path.join(folder, "tcp_echo.hgrm"), 90 * slower, 0.5)
    write_hgrm(os.path.join(folder, "grpc_unary_balancer.hgrm"), 650 * slower, 0.6 * slower)


def make_kinds_run(folder):
    """summary.csv as pathbench writes it now: a request_kind column, each path's "all" row followed by one
    row per kind (a query mix's heavy and point; a task path's types)."""
    os.makedirs(folder)
    header = SUMMARY_HEADER.replace(",phase,", ",phase,request_kind,")
    rows = []
    for path, kind, base, kinds in (("grpc_unary_balancer", "grpc_unary", 650, (("point", 300), ("heavy", 1400))),
                                    ("task_balancer", "task", 900, (("query", 700), ("cpu", 1200), ("write", 1600)))):
        for request_kind, median in (("all", base),) + kinds:
            cells = summary_row(path, kind, "main", 1000, median, 0.5).split(",")
            cells.insert(5, request_kind)
            rows.append(",".join(cells))
        write_hgrm(os.path.join(folder, f"{path}.hgrm"), base, 0.5)
        write_hgrm(os.path.join(folder, f"{path}.uncorrected.hgrm"), base * 0.9, 0.4)
    with open(os.path.join(folder, "summary.csv"), "w") as f:
        f.write(header + "\n" + "\n".join(rows) + "\n")


def run_charts(*args):
    r = subprocess.run(["/usr/bin/python3", CHARTS, *args], capture_output=True, text=True)
    print(f"$ charts.py {' '.join(args)}  -> exit {r.returncode}\n{r.stdout}{r.stderr}", end="")
    return r


def is_png(path):
    if not os.path.exists(path) or os.path.getsize(path) < 1000:
        return False
    with open(path, "rb") as f:
        return f.read(8) == PNG_SIGNATURE


def read(path):
    with open(path) as f:
        return f.read()


def main():
    keep = "--keep" in sys.argv
    try:
        import matplotlib  # noqa: F401  (what charts.py draws with)
    except ImportError:
        print("SKIP: Python module matplotlib is missing (Debian package python3-matplotlib)")
        return 77
    root = tempfile.mkdtemp(prefix="pathbench-charts-")
    try:
        stepped = os.path.join(root, "results", "stepped")
        plain = os.path.join(root, "results", "plain")
        make_stepped_run(stepped)
        make_plain_run(plain)
        slower = os.path.join(root, "results", "slower")
        make_plain_run(slower, slower=1.3)

        # One folder with every input: every chart.
        r = run_charts(stepped)
        check(r.returncode == 0, "charts.py on a full results folder exits 0")
        every = ["latency_spectrum.png", "latency_summary.png", "latency_over_time.png", "throughput_latency.png",
                 "hops.png"]
        for png in every:
            check(is_png(os.path.join(stepped, png)), f"stepped/{png} is a non-empty PNG")
        page = read(os.path.join(stepped, "report.html")) if os.path.exists(os.path.join(stepped, "report.html")) else ""
        for png in every:
            check(f'src="{png}"' in page, f"stepped/report.html shows {png}")
        check("<h2>Hops" in page and "worker_queue" in page, "stepped/report.html has the hops table")
        check("grpc_unary_balancer" in page and "high" in page, "stepped/report.html has the summary rows")
        check("data:image/png;base64," in page and not re.search(r'<img src="(?!data:)', page),
              "stepped/report.html embeds its charts (no image is a separate file)")

        # The knee, faults and summary.json sections, from the files that hold them.
        with open(os.path.join(stepped, "knee.csv"), "w") as f:
            f.write("path,probe,rate_per_s,achieved_rate_per_s,p50_us,p99_us,issued,failed,sustainable,verdict\n"
                    "tcp_echo,probe1_500,500.0,500.0,80.000,300.000,2000,0,true,ok\n"
                    "tcp_echo,probe2_1000,1000.0,700.0,900.000,40000.000,4000,12,false,p99 40.0 ms > 20 ms\n")
        with open(os.path.join(stepped, "knee_answer.csv"), "w") as f:
            f.write("path,knee_rate_per_s,confirmed,at_least,verdict\ntcp_echo,640.0,true,false,confirmed\n")
        with open(os.path.join(stepped, "faults.csv"), "w") as f:
            f.write("path,at_s,fault,ejected_after_ms,errors_after,baseline_ok_per_s,recovered_after_s\n"
                    "grpc_unary_balancer,5.0,kill worker-1,12.5,42,1000.0,1.0\n")
        with open(os.path.join(stepped, "summary.json"), "w") as f:
            f.write('{"warnings": ["WARNING: tcp_echo (low): the load generator itself sent late"], '
                    '"accounting": ["tcp_echo: issued 1500 = ok 1500 -> accounting holds"], '
                    '"objectives": [{"objective": "p99 <= 20ms", "from": "scenario", "path": "tcp_echo", '
                    '"phase": "high", "value": 25000.0, "crossed": true}]}\n')
        r = run_charts(stepped)
        page = read(os.path.join(stepped, "report.html"))
        check("<h2>Knee: the highest sustainable rate" in page and "<td>640</td>" in page, "report.html has the knee answer")
        check("<h2>Knee probes" in page and "p99 40.0 ms &gt; 20 ms" in page, "report.html has the knee probes")
        check("<h2>Faults" in page and "kill worker-1" in page, "report.html has the faults table")
        check("the load generator itself sent late" in page, "report.html has the warnings")
        check("tcp_echo: issued 1500 = ok 1500" in page, "report.html has the accounting lines")
        check("CROSSED" in page and "exited 3" in page, "report.html has the objectives and their verdict")

        # Three folders: each gets its own charts (plain: only what its inputs allow) and the comparison,
        # plain the baseline.
        out = os.path.join(root, "cmp")
        r = run_charts(plain, slower, stepped, "--out", out)
        check(r.returncode == 0, "charts.py on three folders with --out exits 0")
        for png in ("latency_spectrum.png", "latency_summary.png"):
            check(is_png(os.path.join(plain, png)), f"plain/{png} is a non-empty PNG")
        for png in ("latency_over_time.png", "throughput_latency.png", "hops.png"):
            check(not os.path.exists(os.path.join(plain, png)), f"plain/{png} is not drawn (no input for it)")
        plain_page = read(os.path.join(plain, "report.html"))
        check('src="latency_spectrum.png"' in plain_page and "hops.png" not in plain_page,
              "plain/report.html shows only the charts drawn")
        for png in ("comparison_spectrum.png", "comparison_percentiles.png"):
            check(is_png(os.path.join(out, png)), f"cmp/{png} is a non-empty PNG")
        cmp_page = read(os.path.join(out, "comparison.html")) if os.path.exists(os.path.join(out, "comparison.html")) \
            else ""
        for png in ("comparison_spectrum.png", "comparison_percentiles.png"):
            check(f'src="{png}"' in cmp_page, f"cmp/comparison.html shows {png}")
        check("../results/stepped/report.html" in cmp_page and "../results/plain/report.html" in cmp_page,
              "cmp/comparison.html links each run's report")
        check("(+30.0%)" in cmp_page, "cmp/comparison.html gives changes against the baseline (p50 +30 %)")

        # Without --out the comparison goes next to the first folder.
        r = run_charts(stepped, plain)
        check(r.returncode == 0 and is_png(os.path.join(root, "results", "comparison_spectrum.png")),
              "without --out the comparison lands in the first folder's parent")

        # Bad input: exit 2, the other folder still drawn.
        empty = os.path.join(root, "empty")
        os.makedirs(empty)
        os.remove(os.path.join(plain, "latency_summary.png"))
        r = run_charts(empty, plain)
        check(r.returncode == 2 and "no summary.csv" in r.stderr, "a folder without summary.csv: exit 2 and says so")
        check(is_png(os.path.join(plain, "latency_summary.png")), "the other folder is still drawn")
        check(run_charts().returncode == 2, "no folder at all: exit 2")

        # Per-kind rows: kinds.png, and every other chart still reads one row per path.
        kinds = os.path.join(root, "results", "kinds")
        make_kinds_run(kinds)
        r = run_charts(kinds)
        check(r.returncode == 0, "charts.py on a folder with per-kind rows exits 0")
        check(is_png(os.path.join(kinds, "kinds.png")), "kinds/kinds.png is a non-empty PNG")
        kinds_page = read(os.path.join(kinds, "report.html")) if os.path.exists(os.path.join(kinds, "report.html")) else ""
        check('src="kinds.png"' in kinds_page, "kinds/report.html shows kinds.png")
        check(kinds_page.count("<tr") == 3, "kinds/report.html's summary table has the paths' rows (header + 2), not the kinds'")
        check(not os.path.exists(os.path.join(plain, "kinds.png")), "plain/kinds.png is not drawn (no per-kind rows)")
        check(run_charts("--help").returncode == 0, "--help: exit 0")
    finally:
        if keep:
            print(f"fixture kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"charts: {checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
