#!/usr/bin/env bash
# The independent Python WebSocket client (ws_client.py, Python's ssl module) against WebSocket
# fronts serving mutual TLS: a test PKI made now (tests/make_test_certs.sh), a worker and a
# balancer in front of it started with --tls-* (wss://), every ws_client.py check direct and
# through the balancer; then a client without a client certificate, one with a certificate from
# another CA, and a plaintext ws:// client must each be refused; and /metrics over https with curl.
# Usage: ws_tls_clients.sh PATHBENCH PROTO_DIR DB
# Exit 77 when openssl (or a Python dependency) is missing.
set -euo pipefail
pathbench=$1 proto=$2 db=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait || true; rm -rf "$tmp"; }
trap cleanup EXIT
bash "$here/../make_test_certs.sh" "$tmp/pki" || exit $?  # 77 (no openssl): skipped
c=$tmp/pki
tls=(--tls-ca "$c/ca.pem" --tls-cert "$c/node.pem" --tls-key "$c/node.key")

# The first match of the extended regex $2 in the log $1, waiting up to 10 s for it.
wait_for() {
  for _ in $(seq 100); do
    m=$(grep -s -m1 -oE "$2" "$1" || true)
    [[ -n "$m" ]] && { echo "$m"; return 0; }
    sleep 0.1
  done
  echo "no match for '$2' in $1:" >&2; cat "$1" >&2; return 2
}

"$pathbench" serve worker --listen 127.0.0.1:0 --ws-listen 127.0.0.1:0 --db "$db" --id worker-wss-py \
  --metrics 127.0.0.1:0 "${tls[@]}" > "$tmp/worker.log" 2>&1 &
pids+=($!)
worker_url=$(wait_for "$tmp/worker.log" 'wss://127\.0\.0\.1:[0-9]+/query')
worker_grpc=$(wait_for "$tmp/worker.log" ' on 127\.0\.0\.1:[0-9]+' | cut -d' ' -f3)
metrics_url=$(wait_for "$tmp/worker.log" 'https://127\.0\.0\.1:[0-9]+/metrics')
worker_ws=${worker_url#wss://}; worker_ws=${worker_ws%/query}
client=(/usr/bin/python3 "$here/ws_client.py")

echo "== worker: $worker_url, mutual TLS with a client certificate of its CA: every check must pass"
"${client[@]}" "$worker_url" "$proto" --db "$db" --tls-ca "$c/ca.pem" --tls-cert "$c/client.pem" --tls-key "$c/client.key"

"$pathbench" serve balancer --listen 127.0.0.1:0 --workers "$worker_grpc" --worker-ws "$worker_ws" \
  --ws-listen 127.0.0.1:0 "${tls[@]}" > "$tmp/balancer.log" 2>&1 &
pids+=($!)
balancer_url=$(wait_for "$tmp/balancer.log" 'wss://127\.0\.0\.1:[0-9]+/query')
echo "== balancer: $balancer_url over wss://$worker_ws"
"${client[@]}" "$balancer_url" "$proto" --db "$db" --tls-ca "$c/ca.pem" --tls-cert "$c/client.pem" --tls-key "$c/client.key"

for case in "no client certificate" "a client certificate from another CA" "plaintext ws://"; do
  echo "== $case: the worker must refuse"
  args=("$worker_url" "$proto" --tls-ca "$c/ca.pem")
  [[ $case == "a client certificate from another CA" ]] && args+=(--tls-cert "$c/stranger.pem" --tls-key "$c/stranger.key")
  [[ $case == "plaintext ws://" ]] && args=("ws://${worker_url#wss://}" "$proto")
  rc=0
  "${client[@]}" "${args[@]}" || rc=$?
  if [[ $rc -eq 0 || $rc -eq 77 ]]; then
    echo "FAILED: the client with $case was served (exit $rc)" >&2
    exit 1
  fi
  echo "refused as expected (client exit $rc)"
done

if command -v curl >/dev/null; then
  echo "== $metrics_url with curl: served to a client certificate of the CA, refused without one"
  curl -sf --max-time 5 --cacert "$c/ca.pem" --cert "$c/client.pem" --key "$c/client.key" "$metrics_url" > "$tmp/metrics.txt"
  grep -q '^pathbench_worker_' "$tmp/metrics.txt" || { echo "FAILED: no pathbench_worker_ sample in /metrics" >&2; exit 1; }
  if curl -sf --max-time 5 --cacert "$c/ca.pem" "$metrics_url" >/dev/null 2>&1; then
    echo "FAILED: /metrics answered a client without a certificate" >&2
    exit 1
  fi
else
  echo "curl is missing: /metrics over https not checked here (test_tls_ws.cpp checks it when curl is installed)"
fi
echo "OK: WebSocket and /metrics over mutual TLS checked with Python websockets + ssl and curl"
