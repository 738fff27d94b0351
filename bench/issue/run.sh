#!/usr/bin/env bash
# bench/issue: certificates per second through POST /v1/certs, beside the raw sign+verify rate
# of the same CA key on this machine in the same run. Builds an optimized ztca first.
#   bench/issue/run.sh [--store sqlite|postgres] [--threads N] [REQUESTS] [CONNECTIONS]
# --store postgres starts a throwaway PostgreSQL 15 on loopback with fsync ON (the durable
# setting, as SQLite's synchronous=FULL); --threads is `ztca serve --threads` (default: cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
backend=sqlite
threads=
while [ $# -gt 0 ]; do
    case $1 in
    --store) backend=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) break ;;
    esac
done
case $backend in sqlite | postgres) ;; *) echo "--store sqlite|postgres" >&2; exit 2 ;; esac
requests=${1:-3000}
conns=${2:-8}
build=$top/build-bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target ztca bench_issue >/dev/null
. "$top/tests/integration/lib.sh"
T=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    [ -n "$pid" ] && wait "$pid" 2>/dev/null
    pg_stop
    rm -rf "$T"
}
trap cleanup EXIT
store=()
shown="SQLite (embedded, WAL, synchronous=FULL)"
if [ "$backend" = postgres ]; then
    # pg_start turns fsync off for tests; a benchmark of durable commits needs it on.
    pg_start "$T/pg" || { echo "cannot start PostgreSQL 15" >&2; exit 1; }
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=on -c synchronous_commit=on" \
        start >/dev/null
    store=(--store "$PG_URL")
    shown="PostgreSQL 15 (loopback, fsync=on, synchronous_commit=on)"
fi
"$build/ztca" init --dir "$T/ca" --trust-domain bench.example "${store[@]}" >/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/k.pem"
openssl req -new -key "$T/k.pem" -subj /CN=bench -out "$T/ca/bench.csr"
port=$(lib_free_port)
http=$(lib_free_port)
serve=(--dir "$T/ca" --listen-https "127.0.0.1:$port" --listen-http "127.0.0.1:$http")
[ -n "$threads" ] && serve+=(--threads "$threads")
"$build/ztca" serve "${serve[@]}" 2>/dev/null &
pid=$!
lib_wait_http "http://127.0.0.1:$http/healthz" 20
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"
echo "store: $shown, $requests issuances, $conns keep-alive HTTPS connections, serve --threads ${threads:-$(nproc)}"
# The peer of a durable store: synchronous 4 KiB writes (one fsync each) on the file system the
# store lives on, measured before and after the issuances (the disk is shared, so it drifts).
fsync_rate() {
    local n=300 t0 t1
    t0=$(date +%s%N)
    dd if=/dev/zero of="$T/fsync.probe" bs=4k count=$n oflag=dsync 2>/dev/null
    t1=$(date +%s%N)
    rm -f "$T/fsync.probe"
    echo $((n * 1000000000 / (t1 - t0)))
}
f0=$(fsync_rate)
"$build/bench/issue/bench_issue" "$T/ca" "https://127.0.0.1:$port" "$requests" "$conns" 3 | tee "$T/out"
f1=$(fsync_rate)
rate=$(sed -n 's/^| issuances via POST .* | \([0-9]*\)\/s .*/\1/p' "$T/out")
echo "| peer: 4 KiB O_DSYNC writes on the store's file system (dd), before / after | $f0/s / $f1/s |"
# Above 1 only when issuances share durable commits (group commit): each commit costs a sync.
awk -v r="${rate:-0}" -v a="$f0" -v b="$f1" \
    'BEGIN { printf "| ratio issuance / O_DSYNC write rate (mean of before, after) | %.2f |\n", r / ((a + b) / 2) }'
