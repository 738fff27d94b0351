#!/usr/bin/env bash
# bench/suite/rss.sh: the memory of `ztca serve`, idle and under OCSP load (issue 12: < 20 MB /
# < 100 MB), read from /proc/PID/status (VmRSS now, VmHWM the peak). A CA, CERTS device
# certificates, the server on CPU0 (SQLite store), then wrk -t1 -c32 on CPU1 for SECONDS asking for
# the cached answers of all of them round robin and every 10th request a nonce answer (signed
# fresh each time): bench/suite/ocsp_load.lua. Prints wrk's output and `RESULT rss_* value` lines.
# `ztca serve` is two processes (the network process and its signer process, docs/cli.md): the
# figures are their sum (for VmHWM, the sum of each one's peak: an upper bound of the joint peak).
# The sum of RSS counts the pages the two share (libraries) twice; the sum of their Pss
# (/proc/PID/smaps_rollup, shared pages split between the sharers) is printed beside it.
#   bench/suite/rss.sh ZTCA_BIN [CERTS] [SECONDS]        (bench/run calls it; alone: under flock)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
ZTCA=${1:?usage: $0 ZTCA_BIN [CERTS] [SECONDS]}
certs=${2:-200}
secs=${3:-10}
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
export SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent # openssl: no system CA bundle per call
T=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
port=$(lib_free_port)
sport=$(lib_free_port)
"$ZTCA" init --dir "$T/ca" --trust-domain bench.example --public-url "http://127.0.0.1:$port" \
    --api-url "https://127.0.0.1:$sport" >/dev/null
taskset -c 0 "$ZTCA" serve --dir "$T/ca" --listen-http "127.0.0.1:$port" \
    --listen-https "127.0.0.1:$sport" 2>/dev/null &
pid=$! # taskset execs ztca: the same process
lib_wait_http "http://127.0.0.1:$port/healthz" 20 || { echo "ztca serve did not start" >&2 && exit 1; }
[ "$(cat "/proc/$pid/comm")" = ztca ] || { echo "pid $pid is not ztca" >&2 && exit 1; }
ISSUER=$T/ca/ca/intermediate.pem
openssl ecparam -name prime256v1 -genkey -noout -out "$T/k.pem"
openssl req -new -key "$T/k.pem" -subj /CN=rss -out "$T/r.csr"
: >"$T/paths"
for i in $(seq "$certs"); do
    "$ZTCA" issue --dir "$T/ca" --csr "$T/r.csr" --profile device --out "$T/c$i.pem" 2>/dev/null
    openssl ocsp -issuer "$ISSUER" -cert "$T/c$i.pem" -no_nonce -reqout "$T/q$i.der" >/dev/null 2>&1
    echo "/ocsp/$(base64 -w0 "$T/q$i.der" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')" >>"$T/paths"
done
openssl ocsp -issuer "$ISSUER" -cert "$T/c1.pem" -reqout "$T/nonce.der" >/dev/null 2>&1
# One answer checked, so that the load measures real answers.
curl -fsS -o "$T/a.der" "http://127.0.0.1:$port$(head -1 "$T/paths")"
openssl ocsp -respin "$T/a.der" -issuer "$ISSUER" -cert "$T/c1.pem" -CAfile "$T/ca/ca/root.pem" \
    -no_nonce >"$T/check" 2>&1 || true
grep -q ': good' "$T/check" || { echo "not a good OCSP answer:" >&2 && cat "$T/check" >&2 && exit 1; }
mem() { # VmRSS|VmHWM|Pss: summed over the server and its child processes, kB
    local p t=0 v f=status
    [ "$1" = Pss ] && f=smaps_rollup
    for p in "$pid" $(pgrep -P "$pid"); do
        v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/$f" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
sleep 1
echo "server processes: $pid $(pgrep -P "$pid" | tr '\n' ' ')"
echo "RESULT rss_processes $((1 + $(pgrep -c -P "$pid" || true)))"
echo "RESULT rss_idle_kb $(mem VmRSS)"
echo "RESULT rss_idle_pss_kb $(mem Pss)"
echo "RESULT rss_certs $certs"
taskset -c 1 wrk -t1 -c32 -d"${secs}s" --timeout 5s -s "$top/bench/suite/ocsp_load.lua" \
    "http://127.0.0.1:$port" -- "$T/paths" "$T/nonce.der" >"$T/wrk.out" 2>&1
cat "$T/wrk.out"
echo "RESULT rss_after_load_kb $(mem VmRSS)"
echo "RESULT rss_peak_kb $(mem VmHWM)"
echo "RESULT rss_after_load_pss_kb $(mem Pss)"
echo "RESULT rss_load_rps $(awk '/^Requests\/sec:/ { print $2 }' "$T/wrk.out")"
if grep -q 'Non-2xx' "$T/wrk.out" || ! grep -q '^Requests/sec' "$T/wrk.out"; then
    echo
    echo "warnings (figures above may be wrong):"
    echo "- wrk: $(grep -E 'Non-2xx|Socket errors|rror' "$T/wrk.out" | tr '\n' ' ')"
    exit 1
fi
