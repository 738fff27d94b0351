#!/usr/bin/env bash
# bench/issue: certificates per second through POST /v1/certs, beside the raw sign+verify rate
# of the same CA key on this machine in the same run. Builds an optimized ztca first.
#   bench/issue/run.sh [REQUESTS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
requests=${1:-3000}
conns=${2:-8}
build=$top/build-bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target ztca bench_issue >/dev/null
. "$top/tests/integration/lib.sh"
T=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT
"$build/ztca" init --dir "$T/ca" --trust-domain bench.example >/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/k.pem"
openssl req -new -key "$T/k.pem" -subj /CN=bench -out "$T/ca/bench.csr"
port=$(lib_free_port)
http=$(lib_free_port)
"$build/ztca" serve --dir "$T/ca" --listen-https "127.0.0.1:$port" --listen-http "127.0.0.1:$http" \
    2>/dev/null &
pid=$!
lib_wait_http "http://127.0.0.1:$http/healthz" 20
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"
echo "store: SQLite (embedded), $requests issuances, $conns keep-alive HTTPS connections"
"$build/bench/issue/bench_issue" "$T/ca" "https://127.0.0.1:$port" "$requests" "$conns" 3
