#!/bin/bash
# The merged max rate of two load agents against one, the same closed-loop load (issue 18's
# benchmark): two `pathbench agent`s on loopback ports (or the endpoints you give), a grpc_unary
# path through the coordinator's balancer to its two workers, `concurrency` in flight split over
# the agents' client threads. Prints each run's achieved rate, the ratio, and each agent's
# measured start lateness and clock uncertainty (context.json). On one machine a second agent
# adds no capacity (the servers share the cores); on two load machines the ratio is the point.
#   bash bench/agents_scaling.sh [BUILD_DIR] [AGENT1 AGENT2]
set -euo pipefail
build=${1:-build}
bin="$build/src/pathbench"
[[ -x "$bin" ]] || { echo "no $bin: build first (cmake --build $build)" >&2; exit 2; }
a1=${2:-127.0.0.1:50170}
a2=${3:-127.0.0.1:50171}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM
if [[ -z "${2:-}" ]]; then
  for a in "$a1" "$a2"; do
    "$bin" agent --listen "$a" >"$work/agent-${a##*:}.log" 2>&1 &
    pids+=($!)
  done
  for a in "$a1" "$a2"; do
    for _ in $(seq 100); do grep -q "serving pathbench.v1.Agent" "$work/agent-${a##*:}.log" && break; sleep 0.1; done
  done
fi
scenario() {  # ENDPOINTS
  cat <<TOML
name = "agents_scaling"
[load]
mode = "closed"
concurrency = 64
threads = 2
duration = "5s"
warmup = "1s"
[query]
mix = { echo = 1 }
[workers]
count = 2
threads = 2
[agents]
endpoints = [$1]
[[path]]
kind = "grpc_unary"
via = "balancer"
connections = 2
TOML
}
declare -A rate
for n in 1 2; do
  endpoints="\"$a1\""
  [[ $n == 2 ]] && endpoints="\"$a1\", \"$a2\""
  scenario "$endpoints" >"$work/s$n.toml"
  "$bin" run "$work/s$n.toml" --out "$work/out$n" --no-charts --quiet >"$work/run$n.log" 2>&1 || { cat "$work/run$n.log"; exit 1; }
  rate[$n]=$(python3 - "$work/out$n" <<'PY'
import csv, json, sys
d = sys.argv[1]
row = next(r for r in csv.DictReader(open(f"{d}/summary.csv"))
           if r["phase"] == "main" and r["request_kind"] == "all" and r["agent"] == "all")
print(row["achieved_rate_per_s"])
for p in json.load(open(f"{d}/context.json"))["agents"]:
    for a in p.get("agents", []):
        print(f"  agent {a.get('endpoint')}: start late {a.get('start_late_ns', 0) / 1000:.0f} us, "
              f"clock uncertainty {a.get('clock_uncertainty_ns', 0) / 1000:.0f} us", file=sys.stderr)
PY
)
  echo "$n agent(s): ${rate[$n]} req/s (merged, closed loop, 64 in flight)"
done
python3 -c "print(f'two agents / one agent: {float(\"${rate[2]}\") / float(\"${rate[1]}\"):.2f}')"
