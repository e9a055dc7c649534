#!/bin/bash
# What TLS costs, path by path (issue 18's benchmark): one scenario run with and without a [tls]
# table — mutual TLS on every link it opens (gRPC, wss://, the embedded broker's tcps:// and its
# fronts), a throw-away P-256 PKI made by tests/make_test_certs.sh — in two modes: open loop at
# the scenario's own rate (p50, client CPU) and closed loop at CONCURRENCY in flight (max rate).
# Rounds alternate plaintext and TLS; the comparison is `pathbench compare`, plus one line per
# path with the ratios. The machine is shared: read ratios, not digits, and run 2+ rounds.
#   bash bench/tls_cost.sh [BUILD_DIR] [SCENARIO] [ROUNDS] [CONCURRENCY]
# Default scenario: scenarios/quickstart.toml (the TCP floor stays plaintext: it is the floor).
set -euo pipefail
build=${1:-build}
scenario=${2:-scenarios/quickstart.toml}
rounds=${3:-1}
concurrency=${4:-32}
bin="$build/src/pathbench"
[[ -x "$bin" ]] || { echo "no $bin: build first (cmake --build $build)" >&2; exit 2; }
[[ -r "$scenario" ]] || { echo "cannot read the scenario $scenario" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
bash "$here/tests/make_test_certs.sh" "$work/pki" >/dev/null || { echo "cannot make the test PKI (openssl)" >&2; exit 2; }

# The four variants of the scenario: open/closed × plain/tls.
sed -E 's/^mode *= *"open"/mode = "closed"/' "$scenario" >"$work/closed.toml"
grep -q '^mode = "closed"' "$work/closed.toml" || sed -i -E 's/^\[load\]$/[load]\nmode = "closed"/' "$work/closed.toml"
cp "$scenario" "$work/open.toml"
tls_table() {
  cat <<TOML

[tls]
ca = "$work/pki/ca.pem"
cert = "$work/pki/client.pem"
key = "$work/pki/client.key"
[tls.worker]
cert = "$work/pki/node.pem"
key = "$work/pki/node.key"
[tls.balancer]
cert = "$work/pki/node.pem"
key = "$work/pki/node.key"
[tls.broker]
cert = "$work/pki/node.pem"
key = "$work/pki/node.key"
TOML
}
for mode in open closed; do
  cp "$work/$mode.toml" "$work/$mode-plain.toml"
  { cat "$work/$mode.toml"; tls_table; } >"$work/$mode-tls.toml"
done

for round in $(seq "$rounds"); do
  for mode in open closed; do
    for variant in plain tls; do
      out="$work/r$round-$mode-$variant"
      extra=()
      [[ $mode == closed ]] && extra=(--concurrency "$concurrency")
      echo "round $round: $mode loop, $variant" >&2
      "$bin" run "$work/$mode-$variant.toml" --out "$out" --no-charts --quiet "${extra[@]}" >"$out.log" 2>&1 ||
        { echo "the $mode/$variant run failed:" >&2; cat "$out.log" >&2; exit 1; }
    done
  done
  for mode in open closed; do
    echo
    echo "== round $round, $mode loop: plaintext (baseline) vs TLS =="
    "$bin" compare "$work/r$round-$mode-plain" "$work/r$round-$mode-tls"
  done
  echo
  echo "== round $round: TLS / plaintext per path =="
  python3 - "$work/r$round" <<'PY'
import csv, sys
base = sys.argv[1]
def rows(mode, variant):
    out = {}
    for r in csv.DictReader(open(f"{base}-{mode}-{variant}/summary.csv")):
        if r.get("phase") == "main" and r.get("request_kind") == "all" and r.get("agent", "all") == "all":
            out[r["path"]] = r
    return out
op, ot, cp, ct = rows("open", "plain"), rows("open", "tls"), rows("closed", "plain"), rows("closed", "tls")
def num(r, k):
    try:
        return float(r[k])
    except (KeyError, ValueError, TypeError):
        return None
def ratio(a, b):
    return f"{b / a:.2f}" if a and b is not None else "-"
print(f"{'path':28} {'p50 us plain -> tls':>22} {'ratio':>6} {'max rate/s plain -> tls':>26} {'ratio':>6} {'all-process cpu us/req':>24}  clean")
for path in op:
    p50a, p50b = num(op[path], "p50_us"), num(ot.get(path, {}), "p50_us")
    ra, rb = num(cp.get(path, {}), "achieved_rate_per_s"), num(ct.get(path, {}), "achieved_rate_per_s")
    ca, cb = num(op[path], "cpu_total_us_per_req"), num(ot.get(path, {}), "cpu_total_us_per_req")
    clean = all(r.get(path, {}).get("accounting_ok") == "true" and num(r.get(path, {}), "errors") == 0
                and num(r.get(path, {}), "timeouts") == 0 for r in (op, ot, cp, ct))
    fmt = lambda v, d=0: "-" if v is None else f"{v:,.{d}f}"
    print(f"{path:28} {fmt(p50a) + ' -> ' + fmt(p50b):>22} {ratio(p50a, p50b):>6} "
          f"{fmt(ra) + ' -> ' + fmt(rb):>26} {ratio(ra, rb):>6} {fmt(ca, 1) + ' -> ' + fmt(cb, 1):>24}  "
          f"{'yes' if clean else 'NO (errors, timeouts or accounting)'}")
PY
done
