#!/usr/bin/env bash
# The independent Python WebSocket client (ws_client.py), direct and through the balancer:
# starts a worker with its WebSocket front on a free loopback port and checks it, then a
# balancer whose WebSocket front forwards to the worker's and checks that; stops both.
# Usage: ws_clients.sh PATHBENCH PROTO_DIR DB
set -euo pipefail
pathbench=$1 proto=$2 db=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait || true; rm -rf "$tmp"; }
trap cleanup EXIT

# The first match of the extended regex $2 in the log $1, waiting up to 10 s for it.
wait_for() {
  for _ in $(seq 100); do
    m=$(grep -s -m1 -oE "$2" "$1" || true)  # -s: the log may not exist yet
    [[ -n "$m" ]] && { echo "$m"; return 0; }
    sleep 0.1
  done
  echo "no match for '$2' in $1:" >&2; cat "$1" >&2; return 2
}

"$pathbench" serve worker --listen 127.0.0.1:0 --ws-listen 127.0.0.1:0 --db "$db" --id worker-ws-py \
  > "$tmp/worker.log" 2>&1 &
pids+=($!)
worker_ws_url=$(wait_for "$tmp/worker.log" 'ws://127\.0\.0\.1:[0-9]+/query')
worker_grpc=$(wait_for "$tmp/worker.log" ' on 127\.0\.0\.1:[0-9]+' | cut -d' ' -f3)
worker_ws=${worker_ws_url#ws://}; worker_ws=${worker_ws%/query}
echo "== worker: gRPC $worker_grpc, WebSocket $worker_ws_url (direct)"
/usr/bin/python3 "$here/ws_client.py" "$worker_ws_url" "$proto" --db "$db"

"$pathbench" serve balancer --listen 127.0.0.1:0 --workers "$worker_grpc" --worker-ws "$worker_ws" \
  --ws-listen 127.0.0.1:0 > "$tmp/balancer.log" 2>&1 &
pids+=($!)
balancer_ws_url=$(wait_for "$tmp/balancer.log" 'ws://127\.0\.0\.1:[0-9]+/query')
echo "== balancer: WebSocket $balancer_ws_url over $worker_ws"
/usr/bin/python3 "$here/ws_client.py" "$balancer_ws_url" "$proto" --db "$db"
