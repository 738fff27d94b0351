#!/usr/bin/env bash
# bench/propagation (issue 11): how fast a status change made on one node shows in the OCSP
# answers of the others, on PostgreSQL, under OCSP load; and how OCSP throughput grows with the
# number of `--role ocsp` nodes on this machine.
#   bench/propagation/run.sh [--quick] [--changes N] [--seconds S]
# A PostgreSQL primary and a streaming replica (started here, loopback only); node A and node B
# on the primary; OCSP nodes O1..O4 on the replica. The changes are trust holds and releases
# (signals -80 / 0 through A: each is a certificate status change in the change log, exactly as
# a revocation is, but reversible so one certificate serves many rounds), timed by bench_trust
# (bench/trust) from A's 201 to the first OCSP answer that reflects it:
#   A -> A (same node), A -> B (NOTIFY), A -> O1 (replication + the 200 ms log poll).
# While they run, wrk keeps the node being watched under OCSP load (cached GET answers of other
# certificates). Then wrk against 1, 2 and 4 OCSP nodes at once: requests/s summed, and the
# ratio to one node (on 2 cores this shows the ceiling, not the scaling of a real deployment).
# Full: 300 changes per path, 10 s per throughput point (about 6 minutes); --quick: 40 and 3 s;
# --changes and --seconds set them apart. Prints a table and `RESULT prop_<figure> value` lines
# (bench/run reads them).
# Needs PostgreSQL 15 (postgresql), wrk, openssl, curl, python3, taskset, cmake; run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
n=300
secs=10
while [ $# -gt 0 ]; do
    case $1 in
    --quick) n=40 secs=3 ;;
    --changes) n=$2 && shift ;;
    --seconds) secs=$2 && shift ;;
    *) echo "usage: $0 [--quick] [--changes N] [--seconds S]" >&2 && exit 2 ;;
    esac
    shift
done
for tool in wrk openssl curl python3 taskset cmake; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2 && exit 1; }
done
build=${ZTCA_BENCH_BUILD:-$top/build-bench-propagation}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target ztca bench_trust >/dev/null
ZTCA=$build/ztca
CLIENT=$build/bench/bench_trust
[ -x "$CLIENT" ] || CLIENT=$(find "$build" -name bench_trust -type f | head -1)
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
export SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent

T=$(mktemp -d)
PIDS=()
cleanup() { # every exit path stops all it started, even when one kill or wait fails
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    PG_DIR=$T/replica pg_stop
    PG_DIR=$T/primary pg_stop
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
log() { echo "[bench/propagation] $*" >&2; }
if [ "$(nproc)" -ge 2 ]; then SRV=(taskset -c 0) CLI=(taskset -c 1); else SRV=() CLI=(); fi

log "PostgreSQL primary and replica"
pg_start "$T/primary" || { echo "PostgreSQL did not start" >&2 && exit 1; }
PRIMARY=$PG_URL
pg_replica_start "$T/replica" || { echo "the replica did not start" >&2 && exit 1; }

log "CA, nodes, 20 agents"
HA=$(lib_free_port) SA=$(lib_free_port) HB=$(lib_free_port)
D=$T/ca
"$ZTCA" init --dir "$D" --trust-domain bench.example --public-url "http://127.0.0.1:$HA" \
    --api-url "https://127.0.0.1:$SA" --store "$PRIMARY" >/dev/null
node() { # http-port [args...]
    local port=$1
    shift
    "${SRV[@]}" "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$port" "$@" 2>/dev/null &
    PIDS+=($!)
    lib_wait_http "http://127.0.0.1:$port/healthz" 30 || { echo "a node did not start" >&2 && exit 1; }
}
node "$HA" --listen-https "127.0.0.1:$SA"
node "$HB" --listen-https none
OPORTS=()
for i in 1 2 3 4; do
    p=$(lib_free_port)
    OPORTS+=("$p")
    node "$p" --listen-https none --role ocsp --store "$REPLICA_URL"
done

: >"$T/devices"
for i in $(seq 1 20); do
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/k$i.pem"
    openssl req -new -key "$T/k$i.pem" -subj /CN=x -out "$T/r$i.csr"
    tok=$("$ZTCA" token create --dir "$D" --user "u$i" 2>/dev/null)
    csr=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/r$i.csr")
    curl -fsS --cacert "$D/ca/root.pem" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        --data "{\"csr\":$csr}" "https://127.0.0.1:$SA/v1/certs" >"$T/c$i.json"
    python3 - "$T/c$i.json" "$T/c$i.pem" >"$T/dev$i" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write(r["certificate"])
print(r["device_id"])
PY
    openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/c$i.pem" -no_nonce -reqout "$T/q$i.der" >/dev/null 2>&1
    echo "$(cat "$T/dev$i") $T/q$i.der" >>"$T/devices"
done
# A certificate outside the measured set for the OCSP load, and its GET path.
openssl ecparam -name prime256v1 -genkey -noout -out "$T/load.key"
openssl req -new -key "$T/load.key" -subj /CN=x -out "$T/load.csr"
"$ZTCA" issue --dir "$D" --csr "$T/load.csr" --profile device --out "$T/load.pem" 2>/dev/null
openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/load.pem" -no_nonce -reqout "$T/load.der" >/dev/null 2>&1
GETPATH=$(base64 -w0 "$T/load.der" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')

latency() { # label ocsp-port pause-ms key -> prints the table row, keeps RESULT lines
    local label=$1 port=$2 pause=$3 key=$4
    "${CLI[@]}" wrk -t1 -c16 -d600s "http://127.0.0.1:$port/ocsp/$GETPATH" >/dev/null 2>&1 &
    local w=$!
    sleep 1
    timeout 300 "${CLI[@]}" "$CLIENT" latency "$D" "https://127.0.0.1:$SA" "http://127.0.0.1:$port/ocsp" "$T/devices" "$n" "$pause" >"$T/lat.txt" 2>"$T/lat.err" || {
        kill "$w" 2>/dev/null
        echo "bench_trust failed: $(cat "$T/lat.err")" >&2
        exit 1
    }
    kill "$w" 2>/dev/null
    wait "$w" 2>/dev/null || true # wrk ends by SIGTERM: not a failure of the bench
    printf '%-34s %8s %8s %8s %8s\n' "$label" "$(awk '$1=="seen_p50_ms"{print $2}' "$T/lat.txt")" \
        "$(awk '$1=="seen_p99_ms"{print $2}' "$T/lat.txt")" "$(awk '$1=="seen_max_ms"{print $2}' "$T/lat.txt")" \
        "$(awk '$1=="signals"{print $2}' "$T/lat.txt")"
    awk -v k="$key" '$1 ~ /^seen_p(50|99)_ms$|^seen_max_ms$/ { print "RESULT prop_" k "_" $1, $2 }' \
        "$T/lat.txt" >>"$T/results"
}
log "propagation ($n changes per path, OCSP load on the watched node)"
{
    printf '%-34s %8s %8s %8s %8s\n' "change on A, seen on" "p50 ms" "p99 ms" "max ms" "changes"
    latency "A (same node)" "$HA" 0 same
    latency "B (primary, NOTIFY)" "$HB" 0 notify
    # The replica's node polls every 200 ms: a random pause keeps the changes from locking to
    # its timer (bench/trust explains).
    latency "O1 (replica, log poll 200 ms)" "${OPORTS[0]}" 200 replica
} | tee "$T/prop.txt"

log "OCSP throughput with 1, 2, 4 OCSP nodes ($secs s each)"
rate() { # nodes... -> summed requests/s
    local ws=() f
    for p in "$@"; do
        "${CLI[@]}" wrk -t1 -c16 -d"${secs}s" "http://127.0.0.1:$p/ocsp/$GETPATH" >"$T/wrk.$p" 2>&1 &
        ws+=($!)
    done
    wait "${ws[@]}"
    for p in "$@"; do awk '/^Requests\/sec/{print $2}' "$T/wrk.$p"; done | paste -sd+ | bc
}
r1=$(rate "${OPORTS[0]}")
r2=$(rate "${OPORTS[0]}" "${OPORTS[1]}")
r4=$(rate "${OPORTS[@]}")
echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1); servers on CPU0, clients on CPU1"
cat "$T/prop.txt"
printf '\n%-34s %12s %8s\n' "OCSP nodes on the replica" "req/s" "ratio"
printf '%-34s %12.0f %8.2f\n' "1" "$r1" 1
printf '%-34s %12.0f %8.2f\n' "2" "$r2" "$(echo "$r2 / $r1" | bc -l)"
printf '%-34s %12.0f %8.2f\n' "4" "$r4" "$(echo "$r4 / $r1" | bc -l)"
echo
cat "$T/results"
printf 'RESULT prop_ocsp_nodes_%s_rps %.0f\n' 1 "$r1" 2 "$r2" 4 "$r4"
echo "RESULT prop_changes $n"
