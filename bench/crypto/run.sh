#!/usr/bin/env bash
# bench/crypto: ECDSA P-256 and P-384 signatures and verifications per second of ztca's signing
# backends (mbedTLS, OpenSSL libcrypto) and of `openssl speed`, in one run, with the ratios.
# Builds an optimized bench_crypto first (in $ZTCA_BENCH_BUILD, default build-bench-crypto).
#   bench/crypto/run.sh [--quick] [--seconds S] [--runs N]
#     full: 3 runs of 2 s per figure and openssl speed -seconds 3 (about 1.5 minutes); --quick: 1
#     run of 1 s, speed 1 s; --seconds S (may be a fraction) and --runs N set the figures' share.
# Prints a table and `RESULT crypto_<curve>_<op>_<backend> value` lines (bench/run reads them).
set -euo pipefail
cd "$(dirname "$0")/../.."
args=(2 3 3)
while [ $# -gt 0 ]; do
    case $1 in
    --quick) args=(1 1 1) ;;
    --seconds) args[0]=$2 && shift ;;
    --runs) args[1]=$2 && shift ;;
    *) echo "usage: $0 [--quick] [--seconds S] [--runs N]" >&2 && exit 2 ;;
    esac
    shift
done
command -v openssl >/dev/null || { echo "missing: openssl" >&2 && exit 1; }
build=${ZTCA_BENCH_BUILD:-$(pwd)/build-bench-crypto}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target bench_crypto >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(openssl version), mbedTLS $(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' /usr/include/mbedtls/version.h 2>/dev/null)"
"$build/bench/crypto/bench_crypto" "${args[@]}"
