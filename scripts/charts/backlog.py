"""backlog_over_time.png: timeseries.csv's backlog column (one-way messaging paths) per second,
the consume rate beside the publish rate below it, phases shaded."""
import math

from .load import UNMEASURED_PHASES, num
from .style import plt, save
from .timeseries import phase_spans


def backlog_chart(series, out):
    """Draws the chart when some path has a backlog column; returns whether it did."""
    paths = [p for p in dict.fromkeys(r["path"] for r in series)
             if any(not math.isnan(num(r, "backlog")) for r in series if r["path"] == p)]
    if not paths:
        return False
    fig, (depth, rate) = plt.subplots(2, 1, sharex=True, figsize=(13, 8), gridspec_kw={"height_ratios": [3, 2]})
    for i, p in enumerate(paths):
        color = f"C{i % 10}"
        rows = sorted((r for r in series if r["path"] == p), key=lambda r: num(r, "time_s"))
        # The backlog is sampled at the end of each second; rates are per one-second bucket (middle).
        depth.plot([num(r, "time_s") + 1 for r in rows], [num(r, "backlog") for r in rows], "-", color=color,
                   marker="o" if len(rows) <= 60 else None, markersize=3, linewidth=1.8, label=p)
        xs = [num(r, "time_s") + 0.5 for r in rows]
        rate.plot(xs, [num(r, "consumed") for r in rows], "-", color=color, linewidth=1.8, label=f"{p} consumed/s")
        rate.plot(xs, [num(r, "ok") for r in rows], ":", color=color, linewidth=1.2, label=f"{p} published (confirmed)/s")
    shade = ["#e8f0fb", "#fbf1e3"]
    k = 0
    for i, (phase, lo, hi) in enumerate(phase_spans(series)):
        unmeasured = phase in UNMEASURED_PHASES
        for ax in (depth, rate):
            ax.axvspan(lo, hi, color="#dddddd" if unmeasured else shade[k % 2], alpha=0.6 if unmeasured else 0.9,
                       zorder=0, linewidth=0)
            if i > 0:
                ax.axvline(lo, color="#888888", linewidth=0.8, zorder=1)
        depth.text((lo + hi) / 2, 0.99, phase, transform=depth.get_xaxis_transform(), ha="center", va="top",
                   fontsize=8, color="#444444")
        k += 0 if unmeasured else 1
    depth.set_ylabel("messages waiting in the broker")
    depth.set_ylim(bottom=0)
    depth.set_title("Backlog over time — one-way messaging paths, sampled from the broker each second\n"
                    "shaded: load phases; 'drain' = after the last phase, until every confirmed message was consumed",
                    fontsize=11)
    depth.grid(True, alpha=0.3)
    depth.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="path")
    rate.set_ylabel("messages per second")
    rate.set_xlabel("seconds since the path started (paths run one after another, each on the same load)")
    rate.set_ylim(bottom=0)
    rate.grid(True, alpha=0.3)
    rate.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    save(fig, out)
    return True
