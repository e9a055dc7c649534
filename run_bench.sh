#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install what is missing, build (Release), and run a
# scenario (default: quickstart) — `pathbench run` seeds the database when it is missing, prints
# the summary, writes the results and draws the charts and report.html itself.
#   ./run_bench.sh [SCENARIO] [extra `pathbench run` options]
# SCENARIO is a name (`build/src/pathbench scenarios` lists them) or a file.
set -euo pipefail
cd "$(dirname "$0")"

scenario="${1:-quickstart}"
shift || true

scripts/install-deps.sh
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build --target pathbench

exec build/src/pathbench run "$scenario" "$@"
