#!/bin/bash
# Makes a throw-away PKI for the TLS tests in DIR (never committed, made at test time):
#   ca.pem            the test CA
#   node.pem/.key     signed by it, for 127.0.0.1, ::1, localhost and EXTRA_SAN (server and client use)
#   client.pem/.key   signed by it, a client-only identity (no address)
#   other-ca.pem      another CA, and stranger.pem/.key signed by that one
# Exit 77 when the openssl CLI is missing (Debian: openssl).
set -euo pipefail
dir=${1:?usage: make_test_certs.sh DIR [EXTRA_SAN]}
extra_san=${2:+,$2}  # e.g. IP:10.77.0.11,IP:10.77.0.12 (node.pem only)
command -v openssl >/dev/null || { echo "SKIP: the openssl command is missing (Debian package openssl)" >&2; exit 77; }
mkdir -p "$dir"
cd "$dir"
umask 077
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
make_ca() {  # NAME CN
  openssl req -x509 "${ec[@]}" -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" 2>/dev/null
}
sign() {  # NAME CA SAN
  openssl req "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
make_ca ca "pathbench test CA"
make_ca other-ca "another test CA"
sign node ca "IP:127.0.0.1,IP:::1,DNS:localhost$extra_san"
sign client ca "DNS:pathbench-client"
sign stranger other-ca "IP:127.0.0.1,IP:::1,DNS:localhost"
