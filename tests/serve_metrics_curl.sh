#!/bin/bash
# `pathbench serve echo --metrics` serves what it says: curl reads /metrics, promtool checks the
# exposition, and the echo server's connection counter moves when a client connects.
# Usage: serve_metrics_curl.sh PATHBENCH. Exit 77 without curl.
set -u
command -v curl >/dev/null || { echo "SKIP: curl is not installed (Debian package curl)"; exit 77; }
pathbench=$1
out=$(mktemp -d)
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$out"' EXIT
"$pathbench" serve echo --listen 127.0.0.1:0 --metrics 127.0.0.1:0 >"$out/stdout" 2>&1 &
pid=$!
metrics= echo_address=
for _ in $(seq 100); do
  metrics=$(sed -n 's|^metrics: \(http://.*/metrics\)$|\1|p' "$out/stdout")
  echo_address=$(sed -n 's|^echo serving raw TCP on \([0-9.]*\):\([0-9]*\)$|\1 \2|p' "$out/stdout")
  [ -n "$metrics" ] && [ -n "$echo_address" ] && break
  sleep 0.1
done
[ -n "$metrics" ] || { echo "serve echo --metrics printed no metrics address"; cat "$out/stdout"; exit 1; }
curl -sS "$metrics" >"$out/before" || exit 1
grep -qx 'pathbench_echo_connections_accepted_total 0' "$out/before" || { echo "unexpected:"; cat "$out/before"; exit 1; }
if command -v promtool >/dev/null; then
  promtool check metrics <"$out/before" || exit 1
fi
read -r host port <<<"$echo_address"
exec 3<>"/dev/tcp/$host/$port" && printf 'ping' >&3 && head -c 4 <&3 >/dev/null && exec 3>&-
sleep 0.2
curl -sS "$metrics" >"$out/after" || exit 1
grep -qx 'pathbench_echo_connections_accepted_total 1' "$out/after" || { echo "the counter did not move:"; cat "$out/after"; exit 1; }
echo "ok: serve echo --metrics"
