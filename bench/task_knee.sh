#!/usr/bin/env bash
# The task path's figures (issue 15): for each database (SQLite, then a private PostgreSQL:
# url = "auto") and each task type (query, cpu, write: a mix of that type only), the knee of the
# task path direct (p99 <= 50 ms, scenarios/task_knee.toml's [knee]), then p50/p99 of a fixed run
# at half of that knee; for the query type the read-only heavy query's knee (grpc_unary direct)
# comes from the same search. Prints one line per figure; every run's results stay under OUT.
# usage: bench/task_knee.sh [PATHBENCH] [OUT]   (default build/src/pathbench, /tmp/task_knee.<time>)
# Not a test: figures only, noisy on a shared machine (run it twice and compare).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pathbench=$(realpath "${1:-$root/build/src/pathbench}")
out=${2:-/tmp/task_knee.$(date -u +%Y%m%dT%H%M%SZ)}
half_duration=${HALF_DURATION:-4s}
mkdir -p "$out"
cd "$root"

# scenario variant: DATABASE TYPE KNEE(1 = keep [knee]) -> file
variant() {
  local file=$out/task_knee_$1_$2_$3.toml
  awk -v db="$1" -v type="$2" -v knee="$3" '
    /^\[/ { section = $0 }
    /^# reference/ { skip_ref = (type != "query") }
    skip_ref { next }
    section == "[knee]" && knee == 0 { next }
    /^kind = "sqlite"/ && db == "postgres" { print "kind = \"postgres\""; print "url = \"auto\""; next }
    /^mix = \{ query = 1 \}/ { print "mix = { " type " = 1 }"; next }
    /^\[load\]/ && knee == 0 { print; print "mode = \"open\""; print "rate_per_s = 100"; next }
    { print }' scenarios/task_knee.toml >"$file"
  echo "$file"
}

knee_of() {  # RESULTS PATH_LABEL -> rate
  awk -F, -v p="$2" '$1 == p { print $2 }' "$1/knee_answer.csv"
}

for db in sqlite postgres; do
  for type in query cpu write; do
    results=$out/${db}_${type}_knee
    "$pathbench" run "$(variant $db $type 1)" --out "$results" --quiet --no-charts >"$results.log" 2>&1 || true
    task_knee=$(knee_of "$results" task_direct)
    echo "$db $type: task knee ${task_knee:-?} req/s (p99 <= 50 ms)"
    if [ "$type" = query ]; then
      echo "$db heavy query (grpc_unary direct): knee $(knee_of "$results" grpc_unary_direct) req/s"
    fi
    # no sustainable rate at all (the lowest probe failed): nothing to halve
    if [ -z "$task_knee" ] || awk -v k="$task_knee" 'BEGIN { exit !(k <= 0) }'; then continue; fi
    half=$(awk -v k="$task_knee" 'BEGIN { printf "%.0f", k / 2 }')
    results=$out/${db}_${type}_half
    file=$(variant $db $type 0)
    # the half-knee run measures the task path only
    awk '/^# reference/ { exit } { print }' "$file" >"$file.tmp" && mv "$file.tmp" "$file"
    "$pathbench" run "$file" --rate "$half" --duration "$half_duration" --warmup 1s --out "$results" --quiet --no-charts \
      >"$results.log" 2>&1 || true
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
             $col["path"] == "task_direct" && $col["request_kind"] == "all" {
               printf "%s %s: at half the knee (%s req/s): achieved %s req/s, p50 %s us, p99 %s us\n",
                      db, type, half, $col["achieved_rate_per_s"], $col["p50_us"], $col["p99_us"] }' \
        db="$db" type="$type" half="$half" "$results/summary.csv" || echo "$db $type: the half-knee run failed ($results.log)"
  done
done
echo "results: $out"
