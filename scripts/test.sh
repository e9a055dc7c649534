#!/usr/bin/env bash
# The test suite, from a fresh Debian machine: install what is missing, build (Release),
# run every test through ctest, then the unit tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh --test

echo "== build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
echo "== ctest (Release)"
(cd build && ctest --output-on-failure -j "$jobs" --timeout 300)

echo "== build (ASan + UBSan)"
# -O1 without debug info: the sanitized build is for finding bugs, and compiles much faster.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -fno-omit-frame-pointer" \
  -DPATHBENCH_SANITIZE=ON -DPATHBENCH_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target pathbench_tests pathbench broker_frame_fuzz_corpus
echo "== ctest (ASan + UBSan)"
# One test at a time: sanitized code is several times slower, and the tests that check pacing
# and timing (load generator, knee, live output) must not share the 2 cores with a broker
# server starting up in a neighbouring test.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j 1 --timeout 600)
