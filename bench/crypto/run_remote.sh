#!/usr/bin/env bash
# bench/crypto/run_remote.sh: signatures per second through the signer process of `ztca serve`
# (privilege separation, issue 13) beside in-process signing with the same key, 1/2/4 threads,
# with the ratios (docs/performance.md "Remote signer"). Run it holding the bench lock:
#   flock /tmp/ztca-bench.lock bash bench/crypto/run_remote.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
args=(2 3)
if [ "${1:-}" = --quick ]; then
    args=(1 1)
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--quick]" >&2 && exit 2
fi
build=${ZTCA_BENCH_BUILD:-$(pwd)/build-bench-crypto}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target bench_remote >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
for b in openssl mbedtls; do
    ZTCA_CRYPTO_BACKEND=$b "$build/bench/crypto/bench_remote" "${args[@]}"
    echo
done
