#!/usr/bin/env bash
# bench/enroll: TPM enrollments end to end (ztca-agent enroll against ztca serve, swtpm as the
# TPM): enrollments per minute, p50/p99 latency, and where the time goes (TPM, HTTP round trips
# including the server's work, the rest), for ECC and RSA attestation keys. Builds an optimized
# ztca and ztca-agent first (into $ZTCA_BENCH_BUILD, default build-bench).
#   bench/enroll/run.sh [COUNT] [PARALLEL]
# COUNT enrollments per AK type, spread over PARALLEL software TPMs (one device each, enrolling
# again and again with fresh tokens: each enrollment creates its AK and TLS key, proves them and
# gets a certificate). An RSA EK (swtpm's persistent 0x81010001) throughout; the agent reaches the
# TPM directly (swtpm TCTI on a Unix socket).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
count=${1:-60}
parallel=${2:-2}
build=${ZTCA_BENCH_BUILD:-$top/build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target ztca ztca-agent >/dev/null
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/attest_fixtures.sh"
af_have_tools || {
    echo "bench/enroll: $AF_MISSING is not installed" >&2
    exit 1
}

T=$(mktemp -d /tmp/ztca-bench-enroll.XXXXXX)
AF=$T/af
pid=
tpm_pids=()
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    for i in "${!tpm_pids[@]}"; do
        TPM2TOOLS_TCTI="swtpm:path=$T/tpm$i.sock" tpm2_shutdown -c >/dev/null 2>&1
        swtpm_ioctl --unix "$T/tpm$i.sock.ctrl" -s >/dev/null 2>&1 || kill "${tpm_pids[$i]}" 2>/dev/null
        wait "${tpm_pids[$i]}" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

af_init
for i in $(seq 0 $((parallel - 1))); do
    mkdir -p "$T/state$i"
    swtpm_setup --tpm2 --tpmstate "$T/state$i" --create-ek-cert --lock-nvram --pcr-banks sha256 \
        --config "$AF/conf/swtpm_setup.conf" --overwrite >/dev/null 2>&1
    swtpm socket --tpm2 --tpmstate dir="$T/state$i" --server type=unixio,path="$T/tpm$i.sock" \
        --ctrl type=unixio,path="$T/tpm$i.sock.ctrl" --flags not-need-init,startup-clear \
        --log file="$T/tpm$i.log" &
    tpm_pids[$i]=$!
done
for i in $(seq 0 $((parallel - 1))); do
    for _ in $(seq 1 500); do
        TPM2TOOLS_TCTI="swtpm:path=$T/tpm$i.sock" tpm2_getrandom 4 >/dev/null 2>&1 && break
        sleep 0.01
    done
done

"$build/ztca" init --dir "$T/ca" --trust-domain bench.example >/dev/null 2>&1
mkdir -p "$T/ca/tpm-roots"
af_pem_chain "$T/ca/tpm-roots/swtpm-localca.pem" "$AF/localca"
port=$(lib_free_port)
http=$(lib_free_port)
TSS2_LOG=all+NONE "$build/ztca" serve --dir "$T/ca" --listen-https "127.0.0.1:$port" \
    --listen-http "127.0.0.1:$http" 2>/dev/null &
pid=$!
lib_wait_http "http://127.0.0.1:$http/healthz" 20
S=https://127.0.0.1:$port

# One worker per TPM: COUNT/PARALLEL enrollments, one line per enrollment:
# "wall_ms total_ms tpm_ms http_ms" (wall: the agent process from start to exit).
worker() { # index ak count (tokens from $T/tokens-AK-INDEX, made before the clock starts)
    local i=$1 ak=$2 n=$3 k tok t0 t1 timing
    for k in $(seq 1 "$n"); do
        tok=$(sed -n "${k}p" "$T/tokens-$ak-$i")
        rm -rf "$T/out$i"
        t0=$(date +%s%N)
        timing=$("$build/ztca-agent" enroll --server "$S" --token "$tok" --ca-cert "$T/ca/ca/root.pem" \
            --out "$T/out$i" --tcti "swtpm:path=$T/tpm$i.sock" --ek rsa --ak "$ak" --timings 2>&1 >/dev/null |
            sed -n 's/^timings: //p')
        t1=$(date +%s%N)
        [ -n "$timing" ] || {
            echo "enrollment failed" >&2
            return 1
        }
        echo "$(((t1 - t0) / 1000)) $timing"
    done
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"
echo "swtpm $(swtpm --version 2>&1 | sed -n 's/.*version \([0-9.]*\).*/\1/p'), $parallel TPM(s) in parallel, SQLite store, RSA EK; $count enrollments per AK type"
printf '%-4s %6s %12s %8s %8s %8s %10s %10s\n' AK n "enroll/min" "p50 ms" "p99 ms" "mean ms" "TPM share" "HTTP share"
for ak in ecc rsa; do
    per=$(((count + parallel - 1) / parallel))
    for i in $(seq 0 $((parallel - 1))); do
        for k in $(seq 1 "$per"); do
            "$build/ztca" token create --dir "$T/ca" --server "$S" --user "u$ak-$i-$k" 2>/dev/null
        done >"$T/tokens-$ak-$i"
    done
    start=$(date +%s%N)
    workers=()
    for i in $(seq 0 $((parallel - 1))); do
        worker "$i" "$ak" "$per" >"$T/res-$ak-$i" &
        workers+=($!)
    done
    wait_rc=0
    for w in "${workers[@]}"; do
        wait "$w" || wait_rc=1
    done
    end=$(date +%s%N)
    [ $wait_rc = 0 ] || {
        echo "bench/enroll: an enrollment failed" >&2
        exit 1
    }
    cat "$T"/res-"$ak"-* | python3 -c '
import sys
ak, elapsed_ns = sys.argv[1], int(sys.argv[2])
rows = []
for line in sys.stdin:
    f = line.split()
    kv = dict(x.split("=") for x in f[1:])
    rows.append((int(f[0]) / 1000.0, float(kv["total_ms"]), float(kv["tpm_ms"]), float(kv["http_ms"])))
wall = sorted(r[0] for r in rows)
n = len(rows)
pct = lambda p: wall[min(n - 1, int(round(p / 100.0 * (n - 1))))]
total = sum(r[1] for r in rows)
print("%-4s %6d %12.1f %8.1f %8.1f %8.1f %9.0f%% %9.0f%%" % (ak, n, n / (elapsed_ns / 1e9) * 60, pct(50), pct(99),
      sum(wall) / n, 100 * sum(r[2] for r in rows) / total, 100 * sum(r[3] for r in rows) / total))
' "$ak" "$((end - start))"
done
echo "TPM share: time inside ESAPI calls (swtpm, same machine) / the agent's own total; HTTP share:"
echo "the two round trips, the server's verification and issuance included. Latency is the agent"
echo "process end to end (start, TPM, both round trips, files written)."
