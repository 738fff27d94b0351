#!/usr/bin/env bash
# bench/trust (issue 8): how long a trust signal takes to show in OCSP answers, and how many
# signals per second the engine absorbs, while OCSP is under load; beside, in the same run, the
# `openssl ocsp -index` responder reacting to its index file being replaced. Prints one table
# with the machine and the ratios.
#   bench/trust/run.sh [--quick] [--signals N] [--seconds S]
# Full: 1000 signals per latency figure, 10 s per rate figure (about 5 minutes on 2 cores once
# built); --quick: 100 signals, 3 s (about 1 minute); --signals and --seconds set them apart.
# Prints the tables and `RESULT trust_<phase>_<figure> value` lines (bench/run reads them). Servers on CPU0, every client (wrk, ab,
# bench_trust) on CPU1 (../shared/notes/PEERS.md). Builds an optimized ztca in build-bench-trust.
# Needs wrk, ab, openssl, curl, jq, python3, taskset, unshare, ip, ss, cmake; run as root (the
# openssl responder runs in a network namespace of its own, as in bench/ocsp/run.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
signals=1000
secs=10
quick=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 signals=100 secs=3 ;;
    --signals) signals=$2 && shift ;;
    --seconds) secs=$2 && shift ;;
    *) echo "usage: $0 [--quick] [--signals N] [--seconds S]" >&2 && exit 2 ;;
    esac
    shift
done
devices=20
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for tool in wrk ab openssl curl jq python3 taskset unshare ip ss cmake; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2 && exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "run as root (the openssl responder runs in a network namespace)" >&2 && exit 1; }

rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo '?') # what gets built
build=${ZTCA_BENCH_BUILD:-$top/build-bench-trust}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target ztca bench_trust >/dev/null
ZTCA=$build/ztca
BT=$build/bench/trust/bench_trust
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
export SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent # openssl: no system CA bundle per call

T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start() { # command...: runs it in the background, remembered for cleanup
    "$@" &
    PIDS+=($!)
}
if [ "$(nproc)" -ge 2 ]; then
    SRV=(taskset -c 0) CLI=(taskset -c 1) pinning="servers on CPU0, clients on CPU1 (taskset)"
else
    SRV=() CLI=() pinning="not pinned (one core)"
fi
log() { echo "[bench/trust] $*" >&2; }
WARN=()

# ---- a CA, two nodes on one SQLite store ---------------------------------------------------------
log "setting up: CA, two nodes, $devices devices with an agent certificate each"
ha=$(lib_free_port) sa=$(lib_free_port) hb=$(lib_free_port) sb=$(lib_free_port)
D=$T/ca
"$ZTCA" init --dir "$D" --trust-domain bench.example --public-url "http://127.0.0.1:$ha" \
    --api-url "https://127.0.0.1:$sa" >/dev/null
# Request logs (one JSON line per request on stderr) go to /dev/null, as in bench/ocsp.
start "${SRV[@]}" "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$ha" \
    --listen-https "127.0.0.1:$sa" 2>/dev/null
start "${SRV[@]}" "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$hb" \
    --listen-https "127.0.0.1:$sb" 2>/dev/null
for u in "http://127.0.0.1:$ha/healthz" "http://127.0.0.1:$hb/healthz"; do
    lib_wait_http "$u" 20 || { echo "ztca serve did not start ($u)" >&2 && exit 1; }
done
API_A=https://127.0.0.1:$sa
OCSP_A=http://127.0.0.1:$ha/ocsp
OCSP_B=http://127.0.0.1:$hb/ocsp
ISSUER=$D/ca/intermediate.pem
getpath() { base64 -w0 "$1" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g'; }

# Three device certificates that only the OCSP load asks about.
for i in 1 2 3; do
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/leaf$i.key"
    openssl req -new -key "$T/leaf$i.key" -subj /CN=leaf$i -out "$T/leaf$i.csr"
    "$ZTCA" issue --dir "$D" --csr "$T/leaf$i.csr" --profile device --out "$T/leaf$i.pem" 2>/dev/null
    openssl ocsp -issuer "$ISSUER" -cert "$T/leaf$i.pem" -no_nonce -reqout "$T/leaf$i.der" >/dev/null 2>&1
done
# wrk: keep-alive GETs of the cached answers of those three, round robin.
{
    echo 'local paths = {'
    for i in 1 2 3; do echo "\"/ocsp/$(getpath "$T/leaf$i.der")\","; done
    echo '}'
    echo 'local n = 0'
    echo 'request = function() n = n % #paths + 1 return wrk.format("GET", paths[n]) end'
} >"$T/load.lua"

# The devices: one agent certificate each through a one-time token (device id from the key).
: >"$T/devices"
for i in $(seq "$devices"); do
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/a$i.key"
    openssl req -new -key "$T/a$i.key" -subj /CN=ignored -out "$T/a$i.csr"
    tok=$("$ZTCA" token create --dir "$D" --user "u$i" --json | jq -r .token)
    jq -Rs '{csr: .}' "$T/a$i.csr" |
        curl -fsS --cacert "$D/ca/root.pem" -H "Authorization: Bearer $tok" \
            -H 'Content-Type: application/json' --data @- "$API_A/v1/certs" >"$T/a$i.json"
    jq -r .certificate "$T/a$i.json" >"$T/a$i.pem"
    openssl ocsp -issuer "$ISSUER" -cert "$T/a$i.pem" -no_nonce -reqout "$T/a$i.der" >/dev/null 2>&1
    echo "$(jq -r .device_id "$T/a$i.json") $T/a$i.der" >>"$T/devices"
done

# ---- helpers -------------------------------------------------------------------------------------
WRK=
load_start() { # url: wrk on CPU1 until load_stop
    "${CLI[@]}" wrk -t1 -c32 -d3600s --timeout 5s -s "$T/load.lua" "$1" >"$T/wrk.out" 2>&1 &
    WRK=$!
    PIDS+=("$WRK")
    sleep 0.5 # wrk connects its 32 connections
}
load_stop() { # key: stops wrk (SIGINT: it prints its summary), records "key req/s"
    kill -INT "$WRK"
    wait "$WRK" || true
    local rps
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$T/wrk.out")
    echo "$1 ${rps:-0}" >>"$T/load"
    if [ -z "$rps" ] || grep -qE "Non-2xx|Socket errors" "$T/wrk.out"; then
        WARN+=("$1: wrk: $(grep -E 'Non-2xx|Socket errors|rror' "$T/wrk.out" | tr '\n' ' ' || true)")
    fi
}
: >"$T/load"
loadof() { awk -v k="$1" '$1 == k { printf "%.0f", $2 }' "$T/load"; }
get() { # phase key: a value bench_trust printed
    awk -v k="$2" '$1 == k { print $2 }' "$T/$1.out"
}
NOTES=()
check() { # phase: what bench_trust saw besides the figures
    local p=$1
    # A change visible before its signal would mean the measurement is wrong.
    [ "$(get "$p" prime_unexpected)" = 0 ] ||
        WARN+=("$p: $(get "$p" prime_unexpected) answers showed a change before it was made")
    # OCSP errors (tryLater...) are a finding about the responder, not a broken measurement.
    [ "$(get "$p" ocsp_odd_answers)" = 0 ] ||
        NOTES+=("$p: $(get "$p" ocsp_odd_answers) of $(get "$p" ocsp_gets) OCSP answers named no status (first: $(get "$p" ocsp_first_odd))")
}
drive() { # phase args...: bench_trust on CPU1, output in $T/phase.out
    local phase=$1
    shift
    if ! "${CLI[@]}" "$BT" "$@" >"$T/$phase.out" 2>"$T/$phase.err"; then
        WARN+=("$phase: $(tail -3 "$T/$phase.err" | tr '\n' ' ')")
    fi
    [ "$1" = rate ] || check "$phase"
}

# ---- 1, 2: signal 201 -> the first OCSP answer that reflects it ----------------------------------
log "same node, no OCSP load: $signals signals"
drive same_idle latency "$D" "$API_A" "$OCSP_A" "$T/devices" "$signals"
log "same node, OCSP under load: $signals signals"
load_start "http://127.0.0.1:$ha"
drive same_load latency "$D" "$API_A" "$OCSP_A" "$T/devices" "$signals"
load_stop same_load
# Node B learns of A's commits by reading the change log every 100 ms (SQLite): a random pause
# of 0-100 ms before each signal spreads the signals over that period (bench_trust.c says why).
log "cross node (signal to A, OCSP from B), no OCSP load: $signals signals"
drive cross_idle latency "$D" "$API_A" "$OCSP_B" "$T/devices" "$signals" 100
log "cross node, OCSP of B under load: $signals signals"
load_start "http://127.0.0.1:$hb"
drive cross_load latency "$D" "$API_A" "$OCSP_B" "$T/devices" "$signals" 100
load_stop cross_load

# ---- 3: the peer, openssl ocsp -index, in a network namespace with only lo ------------------------
# It reloads index.txt when its mtime, ctime or inode changes (checked once per accepted
# connection, before it waits for the next one), so it is never restarted here.
log "openssl ocsp -index: $signals index replacements, without and with ab load"
mkdir "$T/ossl"
now=$(date -u +%y%m%d%H%M%SZ)
entry() { # leaf.pem status: an index.txt line
    local serial end subject rev=
    serial=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2)
    end=$(date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
    subject=$(openssl x509 -in "$1" -noout -subject -nameopt compat | sed 's/^subject=//')
    [ "$2" = R ] && rev="$now,certificateHold"
    printf '%s\t%s\t%s\t%s\tunknown\t%s\n' "$2" "$end" "$rev" "$serial" "$subject"
}
{ entry "$T/leaf1.pem" V && entry "$T/leaf2.pem" V && entry "$T/leaf3.pem" V; } >"$T/ossl/good"
{ entry "$T/leaf1.pem" R && entry "$T/leaf2.pem" V && entry "$T/leaf3.pem" V; } >"$T/ossl/revoked"
cp "$T/ossl/good" "$T/ossl/index.txt"
cat >"$T/ossl.sh" <<EOF
# In a fresh network namespace: the responder on CPU0, then "\$@" (the client), then stop it.
set -u
ip link set lo up
${SRV[*]} openssl ocsp -index $T/ossl/index.txt -port 8888 -rsigner $D/ca/ocsp.pem \
    -rkey $D/private/ocsp.key -CA $ISSUER -nmin 60 -ignore_err >/dev/null 2>&1 &
p=\$!
trap 'kill \$p 2>/dev/null; wait \$p 2>/dev/null' EXIT
trap 'exit 143' TERM INT
for _ in \$(seq 200); do
    ss -ltnH 'sport = :8888' | grep -q LISTEN && break
    sleep 0.05
done
"\$@"
EOF
cat >"$T/ossl_load.sh" <<EOF
# ab on CPU1 against another certificate while "\$@" runs; ab prints its summary on SIGINT.
${CLI[*]} ab -q -l -r -c 8 -t 3600 -n 100000000 -s 10 http://127.0.0.1:8888/$(getpath "$T/leaf2.der") \
    >$T/ab.out 2>&1 &
a=\$!
sleep 0.5
"\$@"
rc=\$?
kill -INT \$a
wait \$a
exit \$rc
EOF
OSSL_ARGS=(index "$T/ossl/index.txt" "$T/ossl/good" "$T/ossl/revoked" http://127.0.0.1:8888
    "$T/leaf1.der" "$signals")
if ! unshare -n bash "$T/ossl.sh" "${CLI[@]}" "$BT" "${OSSL_ARGS[@]}" >"$T/ossl_idle.out" 2>"$T/ossl_idle.err"; then
    WARN+=("ossl_idle: $(tail -3 "$T/ossl_idle.err" | tr '\n' ' ')")
fi
if ! unshare -n bash "$T/ossl.sh" bash "$T/ossl_load.sh" "${CLI[@]}" "$BT" "${OSSL_ARGS[@]}" \
    >"$T/ossl_load.out" 2>"$T/ossl_load.err"; then
    WARN+=("ossl_load: $(tail -3 "$T/ossl_load.err" | tr '\n' ' ')")
fi
check ossl_idle
check ossl_load
echo "ossl_load $(awk '/^Requests per second:/ { print $4 }' "$T/ab.out")" >>"$T/load"
grep -qE "^(Failed requests: +[1-9]|Non-2xx)" "$T/ab.out" &&
    WARN+=("ossl_load: ab: $(grep -E '^(Failed|Non-2xx)' "$T/ab.out" | tr '\n' ' ')")

# ---- 4: signals per second, and what they cost the OCSP responder --------------------------------
log "signals/s: ${secs} s each, 1 and 4 clients, without and with OCSP load"
drive rate1_idle rate "$D" "$API_A" "$OCSP_A" "$T/devices" "$secs" 1
drive rate4_idle rate "$D" "$API_A" "$OCSP_A" "$T/devices" "$secs" 4
load_start "http://127.0.0.1:$ha"
sleep "$secs"
load_stop ocsp_alone
load_start "http://127.0.0.1:$ha"
drive rate1_load rate "$D" "$API_A" "$OCSP_A" "$T/devices" "$secs" 1
load_stop rate1_load
load_start "http://127.0.0.1:$ha"
drive rate4_load rate "$D" "$API_A" "$OCSP_A" "$T/devices" "$secs" 4
load_stop rate4_load

# ---- the table -----------------------------------------------------------------------------------
fmt() { awk -v v="${1:-0}" 'BEGIN { printf (v >= 100 ? "%.0f" : "%.2f"), v }'; }
lrow() { # label change load-label phase load-key
    local p=$4 post=-
    [ -z "$(get "$p" post_p50_ms)" ] || post="$(fmt "$(get "$p" post_p50_ms)") / $(fmt "$(get "$p" post_p99_ms)")"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(get "$p" signals)" "$post" \
        "$(fmt "$(get "$p" seen_p50_ms)")" "$(fmt "$(get "$p" seen_p99_ms)")" \
        "$(fmt "$(get "$p" seen_max_ms)")" "$(get "$p" first_answer_fresh)/$(get "$p" signals)" \
        "$(fmt "$(get "$p" ocsp_slowest_ms)")" "$(if [ -n "$5" ]; then loadof "$5"; else echo -; fi)"
}
rrow() { # clients load-label phase load-key
    printf '| %s | %s | %s | %s / %s | %s |\n' "$1" "$2" "$(fmt "$(get "$3" per_s)")" \
        "$(fmt "$(get "$3" post_p50_ms)")" "$(fmt "$(get "$3" post_p99_ms)")" \
        "$(if [ -n "$4" ]; then loadof "$4"; else echo -; fi)"
}
ratio() { # label a b
    printf '| %s | %s |\n' "$1" "$(awk -v a="${2:-0}" -v b="${3:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
}
target() { # label p99_ms
    printf '| %s | %s ms | < 1000 ms | %s |\n' "$1" "$(fmt "$2")" \
        "$(awk -v v="${2:-1e9}" 'BEGIN { print (v < 1000 ? "yes" : "**no**") }')"
}

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r), Debian $(cat /etc/debian_version), $(date -u '+%Y-%m-%d %H:%M UTC'), load average before / after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "software: ztca $rev (Release, SQLite store $(dpkg-query -W -f='${Version}' libsqlite3-0 2>/dev/null || echo '?')), $(openssl version | cut -d' ' -f1-2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "method: $pinning; OCSP load: wrk -t1 -c32 keep-alive GETs of 3 other certificates' cached answers (ztca), ab -c8 GETs of another certificate (openssl, no keep-alive); $devices devices, one agent certificate each; signals edr/malware alternately -80 (hold) and 0 (release), round robin; before each change one GET of the old answer (so a cached answer exists); \"seen\": from the 201 (openssl: from the rename(2) of index.txt) to the first OCSP answer whose CertStatus flipped, polling back to back"
echo "command: bench/trust/run.sh$([ "$quick" = 0 ] || echo ' --quick') (--signals $signals --seconds $secs)"
echo
echo "| responder | change | OCSP load | changes | signal p50 / p99 ms | seen p50 ms | seen p99 ms | seen max ms | first answer reflects it | slowest single GET ms | load req/s |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
lrow "ztca, same node" "signal 201" "none" same_idle ""
lrow "ztca, same node" "signal 201" "wrk" same_load same_load
lrow "ztca, node A -> node B" "signal 201 from A, after a 0-100 ms pause" "none" cross_idle ""
lrow "ztca, node A -> node B" "signal 201 from A, after a 0-100 ms pause" "wrk on B" cross_load cross_load
lrow "openssl ocsp -index" "index.txt replaced" "none" ossl_idle ""
lrow "openssl ocsp -index" "index.txt replaced" "ab" ossl_load ossl_load
echo
echo "| signals/s (POST /v1/devices/{id}/signals, keep-alive HTTPS) | OCSP load | signals/s | signal p50 / p99 ms | OCSP req/s meanwhile |"
echo "| --- | --- | ---: | ---: | ---: |"
rrow "1 client" "none" rate1_idle ""
rrow "4 clients" "none" rate4_idle ""
rrow "1 client" "wrk" rate1_load rate1_load
rrow "4 clients" "wrk" rate4_load rate4_load
printf '| no signals | wrk | - | - | %s |\n' "$(loadof ocsp_alone)"
echo
echo "| ratio | value |"
echo "| --- | ---: |"
ratio "same node under load / openssl under load, p50" "$(get same_load seen_p50_ms)" "$(get ossl_load seen_p50_ms)"
ratio "same node under load / openssl under load, p99" "$(get same_load seen_p99_ms)" "$(get ossl_load seen_p99_ms)"
ratio "cross node under load / openssl under load, p50" "$(get cross_load seen_p50_ms)" "$(get ossl_load seen_p50_ms)"
ratio "cross node under load / openssl under load, p99" "$(get cross_load seen_p99_ms)" "$(get ossl_load seen_p99_ms)"
ratio "same node idle / openssl idle, p99" "$(get same_idle seen_p99_ms)" "$(get ossl_idle seen_p99_ms)"
ratio "same node p99: under load / idle" "$(get same_load seen_p99_ms)" "$(get same_idle seen_p99_ms)"
ratio "signals/s under load / idle, 1 client" "$(get rate1_load per_s)" "$(get rate1_idle per_s)"
ratio "signals/s under load / idle, 4 clients" "$(get rate4_load per_s)" "$(get rate4_idle per_s)"
ratio "OCSP req/s with signals (1 client) / without" "$(loadof rate1_load)" "$(loadof ocsp_alone)"
ratio "OCSP req/s with signals (4 clients) / without" "$(loadof rate4_load)" "$(loadof ocsp_alone)"
echo
echo "| issue 8 target | p99 | target | met |"
echo "| --- | ---: | ---: | --- |"
target "same node, under load" "$(get same_load seen_p99_ms)"
target "cross node, under load" "$(get cross_load seen_p99_ms)"
echo
for p in same_idle same_load cross_idle cross_load ossl_idle ossl_load; do
    for k in seen_p50_ms seen_p99_ms seen_max_ms; do echo "RESULT trust_${p}_$k $(get "$p" "$k" || true)"; done
done
for p in rate1_idle rate4_idle rate1_load rate4_load; do echo "RESULT trust_${p}_per_s $(get "$p" per_s || true)"; done
echo "RESULT trust_ocsp_alone_rps $(loadof ocsp_alone)"
echo "RESULT trust_signals $signals"
if [ ${#NOTES[@]} -gt 0 ]; then
    echo
    echo "notes:"
    printf -- '- %s\n' "${NOTES[@]}"
fi
if [ ${#WARN[@]} -gt 0 ]; then
    echo
    echo "warnings (figures above may be wrong):"
    printf -- '- %s\n' "${WARN[@]}"
    exit 1
fi
