"""The HTML pages: report.html for one results folder (one self-contained file: the charts are
embedded as data: URIs, nothing is fetched, so it can be mailed or attached on its own) and
comparison.html for several."""
import base64
import html
import json
import math
import os

from .comparison import comparison_keys
from .load import num


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
    ("uncorrected_p50_us", "p50 µs from actual send", "median timed from when the request was actually sent "
                                                      "(hides the client's own queueing; for comparison only)"),
    ("uncorrected_p99_us", "p99 µs from actual send", "p99 timed from the actual send"),
    ("schedule_lag_p99_us", "send lag p99 µs", "how late requests left against their intended time (p99): waiting "
                                               "for a free in-flight slot plus the generator's own lateness"),
    ("wakeup_lag_p99_us", "generator lag p99 µs", "the load generator's own lateness (p99): above 500 µs the tool "
                                                  "itself bent the measurement"),
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


def embedded_figure(folder, png, caption):
    """The chart inside the page (a data: URI); data-src names the file it came from."""
    with open(os.path.join(folder, png), "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" data-src="{html.escape(png)}" '
            f'alt="{html.escape(png)}"><figcaption><b>{html.escape(png)}</b>: {caption}</figcaption></figure>')


def read_json(folder, name):
    try:
        with open(os.path.join(folder, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def lines_block(title, lines, css="note"):
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(str(line))}</li>" for line in lines)
    return f'<h2>{html.escape(title)}</h2><ul class="{css}">{items}</ul>'


def objectives_block(checks):
    if not checks:
        return ""
    crossed = [c for c in checks if c.get("crossed")]
    verdict = (f'<p class=worse>{len(crossed)} of {len(checks)} checks crossed: <code>pathbench run</code> exited 3 '
               f"(the run itself was fine; an objective was not met).</p>" if crossed else
               f'<p class=better>All {len(checks)} checks held.</p>')
    rows = [{"path": c.get("path", ""), "phase": c.get("phase", ""), "objective": c.get("objective", ""),
             "from": c.get("from", ""), "value": "" if c.get("value") is None else c.get("value"),
             "verdict": "CROSSED" if c.get("crossed") else "held"} for c in checks]
    cols = [(k, k, "") for k in ("path", "phase", "objective", "from", "value", "verdict")]
    return "<h2>Objectives</h2>" + verdict + table(rows, cols)


def csv_table(title, note, rows):
    if not rows:
        return ""
    cols = [(c, c, "") for c in rows[0].keys()]
    return f"<h2>{html.escape(title)}</h2><p class=note>{note}</p>" + table(rows, cols)


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
    "kinds.png": "p50 (solid) and p99 (hatched) of each kind of request a path carried — heavy, point or echo "
                 "queries, or a task's type — from summary.csv's per-kind rows. Lower is better.",
}

HOPS_COLUMNS = [
    ("path", "path", ""), ("phase", "phase", ""), ("hop", "hop", "part of the request's journey"),
    ("requests", "requests", "requests that reported this hop"), ("p50_us", "p50 µs", ""), ("p90_us", "p90 µs", ""),
    ("p99_us", "p99 µs", ""), ("mean_us", "mean µs", "means add up across hops; percentiles do not"),
]


def report(folder, rows, charts, hops, balancer, knee=None, knee_answer=None, faults=None):
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
    summary = read_json(folder, "summary.json") or {}
    parts.append(objectives_block(summary.get("objectives")))
    parts.append(lines_block("Warnings", summary.get("warnings"), "worse"))
    parts.append(lines_block("Accounting: every request issued is counted once", summary.get("accounting")))
    parts.append(csv_table("Knee: the highest sustainable rate", "knee_answer.csv: the answer per path.", knee_answer))
    parts.append(csv_table("Knee probes", "knee.csv: every probe of the search, in run order, with its verdict.", knee))
    parts.append(csv_table("Faults", "faults.csv: each injected fault and how the path took it.", faults))
    if charts:
        parts.append("<h2>Charts</h2>")
        faulted = bool(faults)
        for c in charts:
            caption = CAPTIONS.get(c, "")
            if c == "latency_over_time.png" and not faulted:
                caption = caption.replace("; red lines mark injected faults", "")
            parts.append(embedded_figure(folder, c, caption))
    if hops:
        parts.append("<h2>Hops: where the time went</h2><p class=note>Each server on the way reports how long it "
                     "held the request; the client and network share is what is left. Means add up to "
                     "client_total's (timed from the actual send); percentiles of parts do not add up.</p>")
        parts.append(table(hops, HOPS_COLUMNS))
    if balancer:
        cols = [(c, c, "") for c in balancer[0].keys()]
        parts.append("<h2>Balancer: requests per worker</h2>" + table(balancer, cols))
    if ctx_text:
        try:
            ctx = json.loads(ctx_text)
        except ValueError:
            ctx = {}
        if isinstance(ctx.get("machine"), dict):
            machine = [{"fact": k, "value": v} for k, v in ctx["machine"].items()]
            machine += [{"fact": f"library {k}", "value": v} for k, v in (ctx.get("libraries") or {}).items()]
            parts.append("<h2>Machine</h2>" + table(machine, [("fact", "fact", ""), ("value", "value", "")]))
        if "scenario" in ctx:
            parts.append("<h2>Scenario as run</h2><p class=note>Every default made explicit (from context.json).</p>"
                         f"<pre>{html.escape(json.dumps(ctx['scenario'], indent=2))}</pre>")
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
