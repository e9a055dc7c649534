#!/usr/bin/env bash
# The independent Python grpcio client against the balancer: starts a worker and a balancer
# with `pathbench serve` on free loopback ports, runs grpc_worker_client.py against the
# balancer, stops both. Usage: balancer_client.sh PATHBENCH PROTO_DIR DB
set -euo pipefail
pathbench=$1 proto=$2 db=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait || true; rm -rf "$tmp"; }
trap cleanup EXIT

# The address a server prints on its first line ("... on HOST:PORT ...").
address_of() {
  for _ in $(seq 100); do
    a=$(grep -oE '127\.0\.0\.1:[0-9]+' "$1" | head -n 1 || true)
    [[ -n "$a" ]] && { echo "$a"; return 0; }
    sleep 0.1
  done
  echo "no address in $1:" >&2; cat "$1" >&2; return 2
}

"$pathbench" serve worker --listen 127.0.0.1:0 --ws-listen 127.0.0.1:0 --db "$db" --id worker-py > "$tmp/worker.log" 2>&1 &
pids+=($!)
worker=$(address_of "$tmp/worker.log")
"$pathbench" serve balancer --listen 127.0.0.1:0 --workers "$worker" > "$tmp/balancer.log" 2>&1 &
pids+=($!)
balancer=$(grep -m1 -oE 'on 127\.0\.0\.1:[0-9]+' <(for _ in $(seq 100); do cat "$tmp/balancer.log"; grep -q ' on ' "$tmp/balancer.log" && break; sleep 0.1; done) | cut -d' ' -f2)
[[ -n "$balancer" ]] || { echo "balancer did not start:" >&2; cat "$tmp/balancer.log" >&2; exit 2; }
echo "worker $worker, balancer $balancer"
/usr/bin/python3 "$here/grpc_worker_client.py" "$balancer" "$proto" --db "$db"
