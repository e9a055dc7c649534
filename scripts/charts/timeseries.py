"""latency_over_time.png: timeseries.csv per second and path, phases shaded, faults marked."""
import math

from .load import UNMEASURED_PHASES, num
from .style import latency_log_axis, plt, save
from matplotlib.transforms import blended_transform_factory  # after .style: matplotlib is there and headless


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
    legend_line = "solid: p99, dashed: p50; shaded: load phases" + ("; red dash-dot lines: injected faults" if seen else "")
    lat.set_title("Latency and throughput over time — per second since each path's start\n" + legend_line, fontsize=11)
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
