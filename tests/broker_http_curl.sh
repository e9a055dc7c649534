#!/bin/bash
# An independent client for the broker's HTTP front (GopherMQ's /api/*, docs/broker-fronts.md):
# curl against `pathbench serve broker --http-listen 127.0.0.1:0 --max-pending 2`, each reply's
# status and body compared exactly. Usage: broker_http_curl.sh PATHBENCH. Exit 77 without curl.
set -u
command -v curl >/dev/null || { echo "SKIP: curl is not installed (Debian package curl)"; exit 77; }
pathbench=$1
out=$(mktemp -d)
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$out"' EXIT
"$pathbench" serve broker --http-listen 127.0.0.1:0 --max-pending 2 >"$out/stdout" 2>&1 &
pid=$!
address=
for _ in $(seq 100); do
  address=$(sed -n 's|^broker serving HTTP /api/\* and WebSocket /ws/\* .* on \([0-9.]*:[0-9]*\)$|\1|p' "$out/stdout")
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { echo "the broker did not print its HTTP address"; cat "$out/stdout"; exit 2; }

failures=0
# expect METHOD PATH BODY STATUS EXPECTED_BODY
expect() {
  local got status
  got=$(curl -sS -X "$1" -H 'Content-Type: application/json' --data-binary "$3" -w '\n%{http_code}' "http://$address$2")
  status=${got##*$'\n'}
  got=${got%$'\n'*}
  got=${got%$'\n'}  # the reply's own newline
  if [ "$status" = "$4" ] && [ "$got" = "$5" ]; then
    echo "ok: $1 $2 $3 -> $4 $5"
  else
    echo "FAILED: $1 $2 $3: expected $4 $5, got $status $got"
    failures=$((failures + 1))
  fi
}
expect POST /api/publish '{"subject":"s","data":"x"}' 404 '{"message":"subscriber not found"}'
expect POST /api/subscribe '{"subject":"s"}' 200 '{"id":"1","subject":"s"}'
expect POST /api/subscribe '{"subject":"s"}' 200 '{"id":"2","subject":"s"}'
expect POST /api/publish '{"subject":"s","data":"caf\u00e9"}' 200 '{"status":"ok"}'
expect POST /api/publish/async '{"subject":"s", "data":"two"}' 200 '{"status":"ok"}'
expect POST /api/publish '{"subject":"s","data":"three"}' 507 '{"message":"broker overflow"}'
expect POST /api/fetch '{"subject":"s","id":"1"}' 200 '{"subject":"s","id":"1","data":["café","two"]}'
expect POST /api/fetch '{"subject":"s","id":"1"}' 200 '{"subject":"s","id":"1","data":[]}'
expect POST /api/fetch '{"subject":"s","id":"2"}' 200 '{"subject":"s","id":"2","data":["café","two"]}'
expect POST /api/fetch '{"subject":"s","id":"9"}' 404 '{"message":"subscriber not found"}'
expect POST /api/fetch '{"subject":"s"}' 400 '{"message":"missing field \"id\""}'
expect POST /api/publish '{"subject":"s","data":"x"' 400 "{\"message\":\"bad json: end of input: expected ',' or '}'\"}"
expect POST /api/subscribe '[1]' 400 "{\"message\":\"bad json: byte 0: expected '{'\"}"
expect GET /api/fetch '' 405 '{"message":"method not allowed"}'
expect POST /api/unknown '{}' 404 '{"message":"not found"}'
[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
