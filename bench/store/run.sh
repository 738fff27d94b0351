#!/usr/bin/env bash
# run.sh: the store benchmark (bench_store.c) on both backends, by default at 1 million
# certificates, printing the table and the machine for docs/performance.md. PostgreSQL 15 is
# started in a temporary directory with its default durability (fsync on, synchronous_commit on)
# and reached over TCP on 127.0.0.1, as a separate database host would be.
#   usage: bench/store/run.sh [BUILD_DIR] [COUNT] [LOOKUPS]   (with nice on a shared machine)
# LOOKUPS (default 200000) status reads by serial, a tenth of it for the other read figures.
# Prints the tables and `RESULT store_<backend>_<figure> value` lines (bench/run reads them).
set -euo pipefail
BUILD=${1:-build}
COUNT=${2:-1000000}
LOOKUPS=${3:-200000}
BENCH=$BUILD/bench/bench_store
[ -x "$BENCH" ] || { echo "build bench_store first: cmake --build $BUILD --target bench_store" >&2; exit 2; }
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

T=$(mktemp -d)
PGD=$T/pg
AS=()
[ "$(id -u)" -eq 0 ] && AS=(runuser -u postgres --)
cleanup() {
    [ -f "$PGD/data/postmaster.pid" ] && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$PGD"
if [ "${#AS[@]}" -gt 0 ]; then chmod 755 "$T"; chown postgres "$PGD"; fi
"${AS[@]}" "$PG_BIN/initdb" -D "$PGD/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGD -c shared_buffers=256MB -c max_wal_size=4GB" \
    start >/dev/null

echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
echo "disk:    $(df -h "$T" | awk 'NR == 2 {print $1}') (tmp dir $T)"
echo "SQLite $(/usr/bin/python3 -c 'import sqlite3; print(sqlite3.sqlite_version)'), $("$PG_BIN/postgres" --version)"
echo "certificates: $COUNT bulk-loaded + 2000 issued; $LOOKUPS lookups"
echo
"$BENCH" --header --url "sqlite:$T/bench.db" --count "$COUNT" --lookups "$LOOKUPS"
echo "SQLite file: $(du -h "$T/bench.db" | cut -f1)"
rm -f "$T"/bench.db*
"$BENCH" --url "postgresql://postgres@127.0.0.1:$PORT/postgres" --count "$COUNT" --lookups "$LOOKUPS"
echo "PostgreSQL database: $(psql "postgresql://postgres@127.0.0.1:$PORT/postgres" -Atc "SELECT pg_size_pretty(pg_database_size('postgres'))")"
