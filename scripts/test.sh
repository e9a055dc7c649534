#!/usr/bin/env bash
# The test suite, from a fresh Debian machine: install what is missing, build (Release), run every
# test once through ctest, then the unit and loopback tiers again under AddressSanitizer +
# UndefinedBehaviorSanitizer. Exits non-zero on any failure.
#
# Tiers are ctest labels (tests/CMakeLists.txt): unit (in-process), loopback (servers and runs on
# loopback), realmq (real rabbitmq-server / nats-server), python (python3 modules, curl), postgres
# (a private PostgreSQL server: Debian's postgresql), netns (network namespaces: root), browser
# (report.html in headless chromium), package (the .deb built, unpacked and run). A test
# whose outside program or module is missing is reported as skipped, with its reason below.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh --test

# Each skipped test's reason ("SKIP: ..." in its output, kept in LastTest.log by ctest).
skip_reasons() {
  local log=$1/Testing/Temporary/LastTest.log
  [[ -f "$log" ]] && grep -hE "^SKIP: |[0-9]: MESSAGE: SKIP: " "$log" | sed 's/^.*SKIP: /  skipped: /' | sort | uniq -c || true
}

echo "== build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
echo "== ctest (Release): every tier"
# Two at a time; the tests that measure time (load generator pacing, knee, live output, faults)
# are RUN_SERIAL, so ctest runs each of them alone.
status=0
(cd build && ctest --output-on-failure -j 2 --timeout 300) || status=$?
skip_reasons build
[[ $status -eq 0 ]] || exit "$status"

echo "== build (ASan + UBSan)"
# -O1 without debug info: the sanitized build is for finding bugs, and compiles much faster.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -fno-omit-frame-pointer" \
  -DPATHBENCH_SANITIZE=ON -DPATHBENCH_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target pathbench_tests pathbench broker_frame_fuzz_corpus
echo "== ctest (ASan + UBSan): unit and loopback tiers, and the fuzz corpus"
# Not realmq, python, postgres, netns, browser or package: those exercise the same code through slow outside programs and ran once
# above. One test at a time: sanitized code is several times slower, and the timing tests must not
# share the 2 cores. -LE rather than -L 'unit|loopback' keeps the fuzz corpus replay (fuzz/, no
# label of its own yet).
status=0
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j 1 --timeout 600 -LE 'realmq|python|postgres|netns|browser|package') || status=$?
skip_reasons build-asan
exit "$status"
