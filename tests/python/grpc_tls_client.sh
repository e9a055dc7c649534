#!/usr/bin/env bash
# The independent Python grpcio client against a worker serving mutual TLS: a test PKI made now
# (tests/make_test_certs.sh), `pathbench serve worker --tls-*`, grpc_worker_client.py with
# grpc.ssl_channel_credentials (all checks pass), then the same client without a client
# certificate and with one from another CA (each must fail). Usage: grpc_tls_client.sh PATHBENCH PROTO_DIR DB
# Exit 77 when openssl (or a Python dependency) is missing.
set -euo pipefail
pathbench=$1 proto=$2 db=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$here/../make_test_certs.sh" "$tmp/pki" || exit $?  # 77 (no openssl): skipped
c=$tmp/pki
spawn=(--spawn "$pathbench" serve worker --listen 127.0.0.1:0 --ws-listen off --db "$db" --id worker-tls
       --tls-ca "$c/ca.pem" --tls-cert "$c/node.pem" --tls-key "$c/node.key")
client=(/usr/bin/python3 "$here/grpc_worker_client.py" - "$proto" --db "$db")

echo "== mutual TLS, a client certificate from the worker's CA: every check must pass"
"${client[@]}" --tls-ca "$c/ca.pem" --tls-cert "$c/client.pem" --tls-key "$c/client.key" "${spawn[@]}"

for case in "no client certificate" "a client certificate from another CA"; do
  echo "== $case: the worker must refuse"
  extra=()
  [[ $case == "a client certificate from another CA" ]] && extra=(--tls-cert "$c/stranger.pem" --tls-key "$c/stranger.key")
  rc=0
  "${client[@]}" --tls-ca "$c/ca.pem" "${extra[@]}" "${spawn[@]}" || rc=$?
  if [[ $rc -eq 0 || $rc -eq 77 ]]; then
    echo "FAILED: the client with $case was served (exit $rc)" >&2
    exit 1
  fi
  echo "refused as expected (client exit $rc)"
done
echo "OK: mutual TLS checked with grpcio"
