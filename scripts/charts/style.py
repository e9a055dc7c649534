"""matplotlib (headless) and the axes every chart shares: latencies on log scales labelled in
µs / ms / s, the percentile axis, saving."""
import math
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
except ImportError:
    import os
    # `python3 charts.py` from a pyenv or virtualenv interpreter without matplotlib: Debian's own
    # python3 may have it (python3-matplotlib), so run again under it once.
    debian = "/usr/bin/python3"
    if os.path.realpath(sys.executable) != os.path.realpath(debian) and os.path.exists(debian) \
            and not os.environ.get("PATHBENCH_CHARTS_REEXEC"):
        os.environ["PATHBENCH_CHARTS_REEXEC"] = "1"
        os.execv(debian, [debian] + sys.argv)
    sys.exit(f"charts.py: matplotlib is missing for {sys.executable}; install Debian's package: "
             "sudo apt-get install python3-matplotlib (and run with /usr/bin/python3)")


DPI = 110


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
