#!/usr/bin/env bash
# Installs the Debian packages pathbench's build, tests and chart script need.
# Quick no-op when everything is already installed. Uses sudo when not root.
#   scripts/install-deps.sh            build + run + charts
#   scripts/install-deps.sh --test     also what the test suite uses (python clients, sanitizer runtime,
#                                      the real RabbitMQ and NATS servers the queue-path tests start)
#   scripts/install-deps.sh --server PACKAGE...
#                                      also servers a scenario starts itself (url = "auto"): some of
#                                      rabbitmq-server nats-server postgresql (run_bench.sh passes the
#                                      ones `pathbench validate` names as missing)
set -euo pipefail

# The server programs a run starts itself for url = "auto" (mq/server_process.h).
server_packages=(rabbitmq-server nats-server postgresql)

packages=(
  build-essential cmake ninja-build git pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libboost-program-options-dev libfmt-dev doctest-dev libsqlite3-dev
  libtomlplusplus-dev librabbitmq-dev libnats-dev libbenchmark-dev nlohmann-json3-dev
  python3 python3-matplotlib python3-numpy
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(python3-grpcio python3-protobuf python3-websockets sqlite3 curl prometheus "${server_packages[@]}")
  # report.html checked in a real browser; the man page generated from --help for the package.
  packages+=(chromium help2man)
  # The multi-host agents test: network namespaces and veth pairs (ip netns).
  packages+=(iproute2)
  # The TLS tests make a throw-away test CA with the openssl command (tests/make_test_certs.sh).
  packages+=(openssl)
fi
# The PostgreSQL database backend: libpq to build; the server (initdb, postgres) for `url = "auto"`
# and the postgres test tier is in server_packages (--test, --server postgresql).
packages+=(libpq-dev)
# CPU profiles (run/serve --profile) and the peer benchmarks (bench/compare_peers.py, bench/pgo.sh).
packages+=(libgoogle-perftools-dev)
# wss:// and https://: Beast over OpenSSL (net/websocket).
packages+=(libssl-dev)
if [[ "${1:-}" == "--bench" || "${1:-}" == "--test" ]]; then
  packages+=(google-perftools graphviz nghttp2-client sockperf)
fi

if [[ "${1:-}" == "--server" ]]; then
  shift
  for p in "$@"; do
    if [[ " ${server_packages[*]} " != *" $p "* ]]; then
      echo "install-deps: --server takes some of: ${server_packages[*]} (not '$p')" >&2
      exit 2
    fi
  done
  packages+=("$@")
fi

missing=()
for p in "${packages[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
