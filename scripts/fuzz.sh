#!/usr/bin/env bash
# Fuzzes the broker's frame decoder with libFuzzer for N seconds (default 60):
#   scripts/fuzz.sh [seconds]
# Builds fuzz/broker_frame_fuzz with clang (Debian: clang libclang-rt-14-dev) in build-fuzz/,
# starting from the committed seeds in fuzz/corpus/broker_frame (new inputs go to
# build-fuzz/corpus, crashes to build-fuzz/crash-*). A crash found here belongs in the committed
# corpus once fixed: ctest then replays it on every build.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 77
fi
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPATHBENCH_BENCH=OFF >/dev/null
ninja -C build-fuzz -j2 broker_frame_fuzz
mkdir -p build-fuzz/corpus/broker_frame
build-fuzz/fuzz/broker_frame_fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/ build-fuzz/corpus/broker_frame fuzz/corpus/broker_frame
