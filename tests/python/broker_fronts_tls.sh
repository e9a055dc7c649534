#!/usr/bin/env bash
# The independent Python clients of the embedded broker (broker_fronts_client.py: grpcio, python3-
# websockets, Python's ssl module on the native protocol) against `pathbench serve broker --tls-*`:
# a test PKI made now (tests/make_test_certs.sh); each front's checks over mutual TLS, then a client
# without a certificate (and a plaintext one) refused. Usage: broker_fronts_tls.sh PATHBENCH PROTO_DIR
# Exit 77 when openssl or a Python dependency is missing.
set -euo pipefail
pathbench=$1 proto=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$here/../make_test_certs.sh" "$tmp/pki" || exit $?  # 77 (no openssl): skipped
skipped=0
for front in native grpc ws; do
  echo "== $front over mutual TLS"
  rc=0
  /usr/bin/python3 "$here/broker_fronts_client.py" "$front" "$proto" "$pathbench" --tls "$tmp/pki" || rc=$?
  if [[ $rc -eq 77 ]]; then skipped=$((skipped + 1)); continue; fi
  [[ $rc -eq 0 ]] || { echo "FAILED: the $front checks over TLS (exit $rc)" >&2; exit 1; }
done
[[ $skipped -lt 3 ]] || exit 77
echo "OK: the broker's native protocol and fronts over mutual TLS, checked with independent clients"
