#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install what is missing, build (Release),
# seed the database if missing, run a scenario (default: scenarios/quickstart.toml),
# print the summary and draw the charts.
#   ./run_bench.sh [SCENARIO] [extra `pathbench run` options]
set -euo pipefail
cd "$(dirname "$0")"

scenario="${1:-scenarios/quickstart.toml}"
shift || true

scripts/install-deps.sh
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build --target pathbench

# The database every query-carrying path reads; `pathbench run` would also seed it on demand.
if [[ ! -f data/sales.db ]]; then
  build/pathbench seed --db data/sales.db --sales 100000 --seed 42
fi

out="results/$(basename "$scenario" .toml)/$(date -u +%Y%m%dT%H%M%SZ)"
status=0
build/pathbench run "$scenario" --out "$out" "$@" || status=$?
if [[ -f "$out/summary.csv" ]]; then
  /usr/bin/python3 scripts/charts.py "$out" || echo "run_bench: charts were not drawn (see above)" >&2
  echo "results and charts: $out"
fi
exit $status
