#!/usr/bin/env bash
# bench/scale (issue 12): OCSP latency with 10 million live certificates, on SQLite and on
# PostgreSQL, beside a small store measured in the same run so the growth shows.
#   bench/scale/run.sh [--count N] [--small N] [--secs S] [--data DIR] [--cold] [--warm]
#                      [--threads N] [--only sqlite-small|sqlite-big|pg-small|pg-big]...
# Defaults: 10,000,000 and 1,000,000 certificates, 15 s per measurement. --data keeps the
# loaded stores in DIR (reused by the next run with the same DIR); without it they go at exit.
# --cold: during the SQLite miss mixes, the store file is dropped from the kernel's page cache
# every half second (posix_fadvise DONTNEED, this file only), so lookups wait for the disk as
# they do when the stores are larger than the memory (the 10 million run of 2026-11-26).
# --warm: after the miss mix, the store's certificate status B-tree is read into memory (SQLite:
# a full scan of the certificates table; PostgreSQL: pg_prewarm of the table and its primary key
# into the OS page cache) and the miss mix runs again as "miss-warm": a responder that has run
# for a while, against the stores as loaded (four stores of 28 GB on a 23 GiB machine evict
# each other's pages).
# --threads N: `ztca serve --threads N` (default: its own, one per CPU).
# --only LABEL (repeatable): measure only these stores (all four are still loaded).
# Steps:
#   1. outside the bench lock, with nice -n 19: bench_store --sorted --load-only fills four
#      stores (SQLite small/big, PostgreSQL small/big databases of one PostgreSQL 15 started
#      here with fsync on, shared_buffers=256MB) through store_cert_insert_batch, verifies the
#      audit chain, and writes 400,000 random loaded serials per store; the PostgreSQL
#      databases then get one VACUUM (ANALYZE) (marker file pg-<db>.vacuumed);
#   2. under flock /tmp/ztca-bench.lock: for each store, `ztca serve --role ocsp --store URL`
#      on CPU0 and wrk (keep-alive, 1 thread, 8 connections, ocsp.lua) on CPU1:
#      hit mix  = 1,000 serials cycled (after a 3 s warm-up all come from the pre-signed cache),
#      miss mix = 400,000 serials in random order, each asked about once: every answer is a
#                 store lookup plus an ECDSA signature;
#      server VmRSS idle, then VmRSS and VmHWM after both mixes.
# Needs PostgreSQL 15, wrk, openssl, curl, python3, taskset, cmake; run as root. Prints a table and
# `RESULT scale_<store>_<mix>_<figure> value` lines (bench/run reads them; it holds the bench lock
# already and says so with ZTCA_BENCH_LOCKED=1, so step 2 does not take it again).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
count=10000000 small=1000000 secs=15 cold=0 warm=0 threads=() data= only=
while [ $# -gt 0 ]; do
    case $1 in
    --count) count=$2 && shift 2 ;;
    --small) small=$2 && shift 2 ;;
    --secs) secs=$2 && shift 2 ;;
    --data) data=$2 && shift 2 ;;
    --cold) cold=1 && shift ;;
    --warm) warm=1 && shift ;;
    --only) only="$only $2 " && shift 2 ;;
    --threads) threads=(--threads "$2") && shift 2 ;;
    *) echo "usage: bench/scale/run.sh [--count N] [--small N] [--secs S] [--data DIR] [--cold] [--warm] [--threads N] [--only LABEL]" >&2 && exit 2 ;;
    esac
done
for tool in wrk openssl curl python3 taskset cmake flock; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2 && exit 1; }
done
build=${ZTCA_BENCH_BUILD:-$top/build-bench-scale}
nice -n 10 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
nice -n 10 cmake --build "$build" -j "$(nproc)" --target ztca bench_store >/dev/null
ZTCA=$build/ztca
LOADER=$build/bench/bench_store
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
export SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
AS=()
[ "$(id -u)" -eq 0 ] && AS=(runuser -u postgres --)

keep=1
if [ -z "$data" ]; then
    data=$(mktemp -d /var/tmp/ztca-scale.XXXXXX)
    keep=0
fi
mkdir -p "$data"
data=$(cd "$data" && pwd)
PIDS=()
PGD=$data/pg
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -f "$PGD/data/postmaster.pid" ] && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null 2>&1
    [ "$keep" = 1 ] || rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 130' INT
log() { echo "[bench/scale] $*" >&2; }
SRV=(taskset -c 0) CLI=(taskset -c 1)

# PostgreSQL: the bench/store settings (default durability), TCP on 127.0.0.1.
if [ ! -d "$PGD/data" ]; then
    mkdir -p "$PGD"
    if [ "${#AS[@]}" -gt 0 ]; then chmod 755 "$data"; chown postgres "$PGD"; fi
    "${AS[@]}" "$PG_BIN/initdb" -D "$PGD/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
fi
PORT=$(lib_free_port)
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 120 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGD -c shared_buffers=256MB -c max_wal_size=4GB -c log_min_duration_statement=100" \
    start >/dev/null
PGURL="postgresql://postgres@127.0.0.1:$PORT"

# 1. load, outside the lock
load() { # label url n
    local label=$1 url=$2 n=$3
    if [ -f "$data/$label.loaded" ]; then
        log "$label: reusing $(cat "$data/$label.loaded")"
        return
    fi
    log "$label: loading $n certificates"
    nice -n 19 "$LOADER" --url "$url" --count "$n" --sorted --load-only --batch 10000 \
        --sample 400000 --sample-out "$data/$label.serials" >"$data/$label.load"
    cp "$data/$label.load" "$data/$label.loaded"
    log "$label: $(cat "$data/$label.load")"
}
for db in small big; do
    psql "$PGURL/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
        psql "$PGURL/postgres" -qc "CREATE DATABASE $db"
done
load sqlite-small "sqlite:$data/small.db" "$small"
load sqlite-big "sqlite:$data/big.db" "$count"
load pg-small "$PGURL/small" "$small"
load pg-big "$PGURL/big" "$count"
# A freshly loaded PostgreSQL table is vacuumed by autovacuum, and its first readers set every
# row's hint bits (dirtying pages): both ran during the measurements at each start of this
# script (OCSP miss p99 8 ms in one run, 225-600 ms in the next). VACUUM (ANALYZE) once after the
# load, as an operator does after a bulk import; the marker keeps it to once per store.
for db in small big; do
    if [ ! -f "$data/pg-$db.vacuumed" ]; then
        t0=$SECONDS
        psql "$PGURL/$db" -qc "VACUUM (ANALYZE)"
        log "pg-$db: VACUUM (ANALYZE) in $((SECONDS - t0)) s"
        date -u +%FT%TZ >"$data/pg-$db.vacuumed"
    fi
done

# The CA whose intermediate answers for all four stores (its own store stays in DIR).
D=$data/ca
if [ ! -f "$D/ztca.conf" ]; then
    "$ZTCA" init --dir "$D" --trust-domain scale.example >/dev/null
fi

# 2. timed, under the lock
if [ "${ZTCA_BENCH_LOCKED:-0}" != 1 ]; then
    exec 9>/tmp/ztca-bench.lock
    log "waiting for /tmp/ztca-bench.lock"
    flock 9
fi
# evictor FILE: drops FILE's clean pages from the page cache every 0.5 s until killed.
evictor() {
    exec python3 -c '
import os, sys, time
while True:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    time.sleep(0.5)
' "$1"
}
rss() { awk -v k="$2:" '$1 == k {print int($2 / 1024)}' "/proc/$1/status"; }
measure() { # label url
    local label=$1 url=$2 port pid first
    [ -z "$only" ] || [[ "$only" == *" $label "* ]] || return 0
    port=$(lib_free_port)
    "${SRV[@]}" "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$port" --listen-https none \
        --role ocsp --store "$url" "${threads[@]}" 2>"$data/$label.serve.log" &
    pid=$!
    PIDS+=("$pid")
    lib_wait_http "http://127.0.0.1:$port/healthz" 60 || { echo "$label: serve did not start" >&2 && exit 1; }
    first=$(head -1 "$data/$label.serials")
    openssl ocsp -issuer "$D/ca/intermediate.pem" -serial "0x$first" -no_nonce \
        -reqout "$data/$label.req.der" >/dev/null 2>&1
    # The answer must be "good": an unknown serial would measure the wrong path.
    curl -fsS --data-binary "@$data/$label.req.der" -H 'Content-Type: application/ocsp-request' \
        "http://127.0.0.1:$port/ocsp" -o "$data/$label.resp.der"
    openssl ocsp -respin "$data/$label.resp.der" -resp_text -noverify 2>/dev/null |
        grep -q 'Cert Status: good' || { echo "$label: the OCSP answer is not good" >&2 && exit 1; }
    local idle hit miss
    sleep 1
    idle=$(rss "$pid" VmRSS)
    "${CLI[@]}" wrk -t1 -c8 -d3s -s bench/scale/ocsp.lua "http://127.0.0.1:$port" -- \
        "$data/$label.req.der" "$data/$label.serials" 1000 >/dev/null
    hit=$("${CLI[@]}" wrk -t1 -c8 -d"${secs}s" -s bench/scale/ocsp.lua "http://127.0.0.1:$port" -- \
        "$data/$label.req.der" "$data/$label.serials" 1000 | grep '^RESULT')
    local evict=
    if [ "$cold" = 1 ] && [ "${url#sqlite:}" != "$url" ]; then
        evictor "${url#sqlite:}" &
        evict=$!
        PIDS+=("$evict")
    fi
    miss=$("${CLI[@]}" wrk -t1 -c8 -d"${secs}s" -s bench/scale/ocsp.lua "http://127.0.0.1:$port" -- \
        "$data/$label.req.der" "$data/$label.serials" 400000 | grep '^RESULT')
    if [ -n "$evict" ]; then
        kill "$evict"
        wait "$evict" 2>/dev/null || true
    fi
    local warmed=
    if [ "$warm" = 1 ]; then
        warm_store "$url"
        warmed=$("${CLI[@]}" wrk -t1 -c8 -d"${secs}s" -s bench/scale/ocsp.lua "http://127.0.0.1:$port" -- \
            "$data/$label.req.der" "$data/$label.serials" 400000 | grep '^RESULT')
    fi
    local load_rss hwm
    load_rss=$(rss "$pid" VmRSS)
    hwm=$(rss "$pid" VmHWM)
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    row "$label" hit "$hit" "$idle" "$load_rss" "$hwm"
    row "$label" miss "$miss" "$idle" "$load_rss" "$hwm"
    [ -z "$warmed" ] || row "$label" miss-warm "$warmed" "$idle" "$load_rss" "$hwm"
}
# warm_store URL: the certificate rows (what a status lookup reads) into the page cache.
warm_store() {
    local t0=$SECONDS
    case $1 in
    sqlite:*)
        python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
c.execute("SELECT sum(status) FROM certificates").fetchone()' "${1#sqlite:}"
        ;;
    *)
        psql "$1" -qAt -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
            -c "SELECT pg_prewarm('certificates', 'read'), pg_prewarm('certificates_pkey', 'read')" >/dev/null
        ;;
    esac
    log "warmed ${1%%\?*} in $((SECONDS - t0)) s"
}
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }
row() { # label mix result idle load hwm
    local n
    n=$(cut -d' ' -f2 "$data/$1.loaded")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s/%s/%s |\n' "${1%-*}" "$n" "$2" \
        "$(field req_s "$3")" "$(awk -v u="$(field p50_us "$3")" 'BEGIN {printf "%.2f", u / 1000}')" \
        "$(awk -v u="$(field p99_us "$3")" 'BEGIN {printf "%.2f", u / 1000}')" \
        "$(awk -v u="$(field p999_us "$3")" 'BEGIN {printf "%.2f", u / 1000}')" \
        "$(awk -v u="$(field max_us "$3")" 'BEGIN {printf "%.1f", u / 1000}')" \
        "$(($(field non2xx "$3") + $(field errors "$3")))" "$4" "$5" "$6" >>"$data/table"
    local m=${2//-/}
    local k=scale_${1//-/_}_$m
    printf 'RESULT %s_certs %s\nRESULT %s_rps %s\nRESULT %s_p99_ms %s\nRESULT %s_peak_mib %s\n' \
        "$k" "$n" "$k" "$(field req_s "$3")" "$k" \
        "$(awk -v u="$(field p99_us "$3")" 'BEGIN {printf "%.3f", u / 1000}')" "$k" "$6" >>"$data/results"
}
: >"$data/table"
: >"$data/results"
log "measuring ($secs s per mix)"
measure sqlite-small "sqlite:$data/small.db"
measure sqlite-big "sqlite:$data/big.db"
measure pg-small "$PGURL/small"
measure pg-big "$PGURL/big"
[ "${ZTCA_BENCH_LOCKED:-0}" = 1 ] || flock -u 9

echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ztca serve --role ocsp ${threads[*]} on CPU0, wrk -t1 -c8 keep-alive POST /ocsp on CPU1, ${secs} s per mix$([ "$cold" = 1 ] && echo ", SQLite miss mixes with the store dropped from the page cache every 0.5 s (--cold)")"
echo "stores: SQLite $(du -h "$data/small.db" | cut -f1) / $(du -h "$data/big.db" | cut -f1); PostgreSQL $(psql "$PGURL/postgres" -Atc "SELECT pg_size_pretty(pg_database_size('small')) || ' / ' || pg_size_pretty(pg_database_size('big'))")"
for l in sqlite-small sqlite-big pg-small pg-big; do echo "load $l: $(cat "$data/$l.loaded")"; done
echo
echo "| store | certificates | mix | answers/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | RSS MiB idle/load/peak |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
sed 's/^| sqlite /| SQLite /; s/^| pg /| PostgreSQL /' "$data/table"
echo
cat "$data/results"
