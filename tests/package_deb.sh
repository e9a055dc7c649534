#!/usr/bin/env bash
# The .deb as a user gets it: built with CPack from this build folder, unpacked with `dpkg -x` into
# a temporary root (the system is not touched), and the unpacked pathbench run from another folder:
# `pathbench scenarios` lists the installed scenarios, `pathbench run quickstart` finds the scenario
# and the chart script by name next to the executable, and writes summary.json and report.html.
#   package_deb.sh BUILD_DIR
# Exit 0 passed, 1 failed, 77 skipped (no dpkg-deb / dpkg-shlibdeps: not a Debian machine).
set -uo pipefail
build=$1
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing (Debian: dpkg-dev, cmake): no .deb to test"; exit 77; }
done
tmp=$(mktemp -d /tmp/pathbench-deb-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

# What install puts in the package must be built (install builds nothing itself).
targets=(pathbench)
grep -q '^PATHBENCH_HELP2MAN:FILEPATH=/' "$build/CMakeCache.txt" && targets+=(pathbench_man)
cmake --build "$build" --target "${targets[@]}" >/dev/null || { echo "FAIL build ${targets[*]}"; exit 1; }
(cd "$build" && cpack -G DEB -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; echo "FAIL cpack -G DEB"; exit 1; }
deb=$(ls "$tmp"/pkg/*.deb 2>/dev/null | head -1)
check "cpack -G DEB wrote a package" test -n "$deb"
[[ -n "$deb" ]] || exit 1
echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes)"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libgrpc++ libprotobuf librabbitmq libnats libsqlite3 libfmt libboost-program-options; do
  check "Depends names $lib" grep -q "$lib" <<<"$depends"
done
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/pathbench ./usr/share/pathbench/scenarios/quickstart.toml ./usr/share/pathbench/scripts/charts.py \
         ./usr/share/pathbench/scripts/charts/report.py ./usr/share/pathbench/docs/README.md \
         ./usr/share/bash-completion/completions/pathbench; do
  check "the package holds $f" grep -q " $f\$" <<<"$contents"
done
if [[ " ${targets[*]} " == *" pathbench_man "* ]]; then
  check "the package holds the man page" grep -q " ./usr/share/man/man1/pathbench.1" <<<"$contents"
else
  echo "SKIP: help2man is missing (Debian: help2man): the package has no man page"
fi

root="$tmp/root"
dpkg -x "$deb" "$root"
bin="$root/usr/bin/pathbench"
mkdir -p "$tmp/elsewhere"
cd "$tmp/elsewhere" || exit 1
"$bin" scenarios >"$tmp/scenarios.txt" 2>&1
check "pathbench scenarios lists the installed scenarios" grep -q "^$root/usr/share/pathbench/scenarios:" "$tmp/scenarios.txt"
check "... with their descriptions" grep -qE "^  quickstart +tcp_echo floor" "$tmp/scenarios.txt"
# Bash completion offers subcommands and scenario names.
words=$(bash -c "source '$root/usr/share/bash-completion/completions/pathbench'; COMP_WORDS=('$bin' run quick); COMP_CWORD=2; _pathbench; echo \"\${COMPREPLY[*]}\"")
check "bash completion completes 'run quick' to quickstart" grep -qw quickstart <<<"$words"
"$bin" run quickstart --duration 1s --warmup 0s --out "$tmp/elsewhere/out" >"$tmp/run.txt" 2>&1
status=$?
cat "$tmp/run.txt"
check "pathbench run quickstart from another folder exits 0" test "$status" -eq 0
check "summary.json is written" test -s "$tmp/elsewhere/out/summary.json"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  check "report.html is drawn with the packaged chart script" test -s "$tmp/elsewhere/out/report.html"
else
  echo "SKIP: /usr/bin/python3 has no matplotlib: the packaged charts are not drawn"
fi
echo "package: $failures failed"
[[ $failures -eq 0 ]]
