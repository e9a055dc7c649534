"""Where a request's time and CPU go: hops.png (mean per hop, stacked per path, from hops.csv) and
cpu.png (CPU µs per request by thread group, from summary.csv's cpu_* columns)."""
import math

from .load import num, phases_per_path
from .style import plt, save


# Stacked bottom to top, in the order a request meets them; their means add up to client_total's.
HOPS = [
    ("client_and_network", "client and network (client library, the wire both ways)", "#4c72b0"),
    ("balancer", "balancer (its own share: routing, forwarding)", "#dd8452"),
    ("worker_queue", "worker queue (waiting for a SQL thread; queue paths: time in the broker)", "#c44e52"),
    ("worker_sql", "worker SQL (running the query)", "#55a868"),
    ("worker_other", "worker other (decode, encode, bookkeeping)", "#8172b3"),
]


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
    ("balancer", "balancer threads (WebSocket front, health checks)", "#C44E52"),
    ("echo", "TCP echo server", "#8172B3"),
    ("broker", "embedded broker (native server, HTTP/WebSocket front)", "#DA8BC3"),
    ("other", "other pathbench threads", "#937860"),
    ("unattributed", "threads that ended unsampled (gRPC pool)", "#bbbbbb"),
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
