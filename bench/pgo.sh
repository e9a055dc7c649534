#!/usr/bin/env bash
# Profile-guided optimisation, measured (issue 15 item 7):
#   1. builds pathbench with -fprofile-generate into build-pgo-gen,
#   2. runs the training scenario with it (the profile lands in build-pgo-gen/pgo-data),
#   3. rebuilds with -fprofile-use into build-pgo-use,
#   4. runs the same scenario with a plain build (-O2 Release, build-pgo-base) and the PGO build
#      in turn, ROUNDS times, and prints each path's throughput and CPU per request before and
#      after (medians) and the ratio.
# usage: bench/pgo.sh [SCENARIO] [ROUNDS]   (from anywhere; default bench/pgo_training.toml, 3)
# The scenario's database path is relative to the repository root (seeded when missing).
# Not a test: figures only. Needs what the normal build needs; -j2 unless JOBS is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scenario=$(realpath "${1:-$root/bench/pgo_training.toml}")
rounds=${2:-3}
jobs=${JOBS:-2}
cd "$root"
work=$(mktemp -d /tmp/pathbench-pgo.XXXXXX)
trap 'rm -rf "$work"' EXIT

gen=$root/build-pgo-gen use=$root/build-pgo-use base=$root/build-pgo-base
data=$gen/pgo-data
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

configure() {  # DIR FLAGS
  cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPATHBENCH_BENCH=OFF "${launcher[@]}" \
        "-DCMAKE_CXX_FLAGS=$2" >/dev/null
  # Ninja reports a failed compile on stdout: keep its last lines when it fails.
  cmake --build "$1" -j "$jobs" --target pathbench >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }
}

# Object names in the profile are made relative to each build dir, so the -fprofile-use build
# (another dir) finds the data written by the -fprofile-generate one.
echo "pgo: building with -fprofile-generate ($gen)"
rm -rf "$data"
configure "$gen" "-fprofile-generate -fprofile-update=atomic -fprofile-dir=$data -fprofile-prefix-path=$gen"
echo "pgo: training run: $scenario"
"$gen/src/pathbench" run "$scenario" --quiet --out "$work/train" >/dev/null
echo "pgo: building with -fprofile-use ($use)"
# The generated protobuf headers live in each build dir, so their functions' source paths differ
# between the two builds: -Wno-coverage-mismatch keeps GCC from refusing those profiles.
configure "$use" "-fprofile-use -fprofile-partial-training -Wno-missing-profile -Wno-coverage-mismatch -fprofile-dir=$data -fprofile-prefix-path=$use"
echo "pgo: building the plain Release build to compare with ($base)"
configure "$base" ""

for r in $(seq "$rounds"); do
  for which in base use; do
    if [[ $which == use ]]; then dir=$use; else dir=$base; fi
    out=$work/$which-$r
    "$dir/src/pathbench" run "$scenario" --quiet --out "$out" >/dev/null
  done
  echo "pgo: round $r/$rounds done"
done

python3 - "$work" "$rounds" <<'PY'
import csv, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def rows(which):
    out = {}
    for r in range(1, rounds + 1):
        for row in csv.DictReader(open(f"{work}/{which}-{r}/summary.csv")):
            out.setdefault(row["path"], []).append((float(row["achieved_rate_per_s"]), float(row["cpu_total_us_per_req"])))
    return out
base, pgo = rows("base"), rows("use")
print(f"# bench/pgo.sh: medians of {rounds} alternating runs")
print(f"{'path':<22} {'req/s before':>13} {'after':>10} {'ratio':>6} {'CPU us/req before':>18} {'after':>8} {'ratio':>6}")
for path in base:
    rb = statistics.median(v[0] for v in base[path]); ra = statistics.median(v[0] for v in pgo[path])
    cb = statistics.median(v[1] for v in base[path]); ca = statistics.median(v[1] for v in pgo[path])
    print(f"{path:<22} {rb:>13.0f} {ra:>10.0f} {ra / rb:>6.2f} {cb:>18.1f} {ca:>8.1f} {(ca / cb if cb else 0):>6.2f}")
PY
