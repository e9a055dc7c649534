#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install what is missing (the build's packages, then the
# servers the scenario starts itself: rabbitmq-server, nats-server, postgresql), build (Release), and run a
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

# The servers the scenario starts itself (url = "auto": rabbitmq-server, nats-server, PostgreSQL):
# `pathbench validate` warns about each one missing here, naming its Debian package.
mapfile -t servers < <(build/src/pathbench validate "$scenario" 2>&1 |
  sed -n 's/.*WARNING: .*install the Debian package \([a-z0-9.+-]*\).*/\1/p' | sort -u)
if [[ ${#servers[@]} -gt 0 ]]; then
  scripts/install-deps.sh --server "${servers[@]}"
fi

exec build/src/pathbench run "$scenario" "$@"
