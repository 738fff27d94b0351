#!/usr/bin/env bash
# The store on a real PostgreSQL 15, started here in a temporary directory (initdb + pg_ctl as the
# postgres user, since the server refuses to run as root), on 127.0.0.1 and a Unix socket in that
# directory, and stopped on every exit path:
#   1. the conformance suite (tests/unit/test_store.c) with ZTCA_TEST_PG, including the change
#      feed across two connections (LISTEN/NOTIFY) and reconnects while the server is stopped and
#      restarted under it (ZTCA_TEST_PG_STOP/START);
#   2. the CLI checks of store_checks.sh (init, issue, two concurrent issuers, SIGKILL loop,
#      tamper, migrations) against `--store postgresql://...`.
# Locally a missing PostgreSQL skips (77); with ZTCA_CI=1 it fails.
set -uo pipefail

ZTCA=${ZTCA_BIN:-${1:-}}
[ -x "$ZTCA" ] || { echo "usage: ZTCA_BIN=path/to/ztca [ZTCA_BUILD_DIR=build] $0" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh" # lib_sanitizer_dir, lib_sanitizer_check
BUILD=${ZTCA_BUILD_DIR:-$(dirname "$ZTCA")}
SUITE=$BUILD/tests/test_store
skip() {
    echo "missing peer: $*" >&2
    [ "${ZTCA_CI:-0}" = 1 ] && exit 1
    exit 77
}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] || skip "PostgreSQL 15 server ($PG_BIN)"
command -v psql >/dev/null || skip "psql"
openssl version >/dev/null 2>&1 || skip "openssl"
[ -x "$SUITE" ] || skip "the conformance suite $SUITE (CUnit)"

T=$(mktemp -d)
# Sanitizer reports to files, checked at the end: refusals exit non-zero by design and their
# stderr is only grepped (or dropped), so a leak on an error path went unseen.
lib_sanitizer_dir "$T/sanitizer"
PGD=$T/pg
AS=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || skip "a postgres user to run the server as"
    AS=(runuser -u postgres --)
fi
cleanup() {
    local rc=$? before=${fails:=0}
    if [ -f "$PGD/data/postmaster.pid" ]; then
        "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -m immediate -w stop >/dev/null 2>&1
    fi
    lib_sanitizer_check
    rm -rf "$T"
    lib_cleanup_status "$rc" "$before"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$PGD"
if [ "${#AS[@]}" -gt 0 ]; then
    chmod 755 "$T"
    chown postgres "$PGD"
fi
"${AS[@]}" "$PG_BIN/initdb" -D "$PGD/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
    >"$PGD/initdb.log" 2>&1 || { cat "$PGD/initdb.log" >&2; echo "FAIL: initdb" >&2; exit 1; }
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# fsync off: these tests kill clients, not the server; the benchmark runs with fsync on.
OPTS="-c listen_addresses=127.0.0.1 -p $PORT -k $PGD -c fsync=off -c max_connections=100"
PG_START=("${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 30 -o "$OPTS" start)
PG_STOP=("${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGD/data" -m fast -w -t 30 stop)
"${PG_START[@]}" >/dev/null || { cat "$PGD/server.log" >&2; echo "FAIL: pg_ctl start" >&2; exit 1; }
PG_URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
psql "$PG_URL" -Atc "SELECT 1" >/dev/null || { echo "FAIL: cannot reach the server" >&2; exit 1; }

# shellcheck source=store_checks.sh
. "$here/store_checks.sh"

# ---- 1. the conformance suite -------------------------------------------------------------
start=$SECONDS
export ZTCA_TEST_PG=$PG_URL
ZTCA_TEST_PG_STOP="$(printf '%q ' "${PG_STOP[@]}") >/dev/null"
ZTCA_TEST_PG_START="$(printf '%q ' "${PG_START[@]}") >/dev/null"
export ZTCA_TEST_PG_STOP ZTCA_TEST_PG_START
if "$SUITE" >"$T/suite.log" 2>&1; then
    ok "conformance suite on SQLite and PostgreSQL ($((SECONDS - start)) s)"
else
    bad "conformance suite"
    grep -E "FAILED|^ +[0-9]+\. " "$T/suite.log" >&2 || tail -30 "$T/suite.log" >&2
fi
grep -q "Suite: store_postgresql" "$T/suite.log" && ok "the suite ran against PostgreSQL" ||
    bad "the suite did not run against PostgreSQL"
grep -q "pg_reconnect: stopped and started the server" "$T/suite.log" &&
    ok "change feed and calls survived server stops and restarts" || bad "reconnect test did not run"
unset ZTCA_TEST_PG ZTCA_TEST_PG_STOP ZTCA_TEST_PG_START
psql "$PG_URL" -Atc "SELECT 1" >/dev/null || { echo "FAIL: server down after the suite" >&2; exit 1; }

# ---- 2. the CLI on PostgreSQL ----------------------------------------------------------------
psql "$PG_URL" -qAtc "CREATE DATABASE ztca" || { echo "FAIL: createdb" >&2; exit 1; }
DB_URL="postgresql://postgres@127.0.0.1:$PORT/ztca"
STORE_FLAG=(--store "$DB_URL")
sql() { psql "$DB_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
sql_exec() { psql "$DB_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1" >/dev/null || bad "sql: $1"; }
disable_audit_triggers() { sql_exec "ALTER TABLE audit_log DISABLE TRIGGER USER"; }

store_checks_all
grep -q "\"store\": \"$DB_URL\"" "$T/ca/ztca.conf" && ok "ztca.conf records the PostgreSQL URL" ||
    bad "ztca.conf store"
# Without --store the recorded URL is used; a server that is down fails cleanly.
"$ZTCA" audit verify --dir "$T/ca" | grep -q "intact" && ok "audit verify with the URL from ztca.conf" ||
    bad "audit verify from ztca.conf"
"${PG_STOP[@]}" >/dev/null
if "$ZTCA" issue --dir "$T/ca" --csr "$T/dev.csr" --profile device --device-id down-1 \
    --out "$T/down.pem" 2>"$T/down.err"; then
    bad "issued while the database was down"
else
    grep -q "cannot open the store postgresql://postgres@127.0.0.1:$PORT/ztca" "$T/down.err" &&
        [ ! -e "$T/down.pem" ] && ok "database down: clean refusal ($(head -c 160 "$T/down.err"))" ||
        bad "database down: $(cat "$T/down.err")"
fi
"${PG_START[@]}" >/dev/null || bad "restart"
issue_one "$T/up.pem" up-1 && ok "issues again once the database is back" || bad "after restart"

lib_sanitizer_check
if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "all checks passed"
