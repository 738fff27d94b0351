#!/usr/bin/env bash
# The embedded SQLite store through the ztca CLI: init creates and migrates DIR/store/ztca.db and
# records what it issued; issuance is recorded before it is handed out; two processes issuing at
# once lose nothing; SIGKILL in a loop leaves a consistent store; changing any audit row is named
# by `ztca audit verify`; a newer schema is refused; init stays all-or-nothing. The same checks
# run on PostgreSQL in test_store_pg.sh (store_checks.sh). Peers: openssl, python3 (sqlite3).
set -uo pipefail

ZTCA=${ZTCA_BIN:-${1:-}}
[ -x "$ZTCA" ] || { echo "usage: ZTCA_BIN=path/to/ztca $0" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh" # lib_sanitizer_dir, lib_sanitizer_check
need() {
    if ! "$@" >/dev/null 2>&1; then
        echo "missing peer: $*" >&2
        [ "${ZTCA_CI:-0}" = 1 ] && exit 1
        exit 77
    fi
}
need openssl version
PY=/usr/bin/python3
need "$PY" -c 'import sqlite3'

# The shared frame: $T, ok/bad, sanitizer reports to files checked at exit (refusals exit
# non-zero by design and their stderr is only grepped, so a leak there would go unseen).
lib_harness
# shellcheck source=store_checks.sh
. "$here/store_checks.sh"

STORE_FLAG=()
DB="$T/ca/store/ztca.db"
sql() {
    "$PY" - "$DB" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
for row in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}
sql_exec() {
    "$PY" - "$DB" "$1" <<'PY' || bad "sql: $1"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
c.executescript(sys.argv[2])
PY
}
disable_audit_triggers() {
    sql_exec "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete"
}

store_checks_all

# SQLite specifics: file modes, WAL, integrity after the crash loop, append-only triggers.
[ "$(stat -c %a "$T/ca/store")" = 700 ] && [ "$(stat -c %a "$DB")" = 600 ] &&
    ok "store/ is 0700 and ztca.db 0600" || bad "modes: $(stat -c '%a %n' "$T/ca/store" "$DB")"
[ "$(sql "PRAGMA journal_mode")" = wal ] && ok "WAL mode" || bad "journal mode"
[ "$(sql "PRAGMA integrity_check")" = ok ] && ok "integrity_check ok after the crash loop" ||
    bad "integrity_check"

# The database itself refuses audit changes while the triggers are in place (a fresh CA).
mkdir -p "$T/fresh"
T0=$T
T=$T/fresh
if "$ZTCA" init --dir "$T/ca" --trust-domain corp.example >/dev/null 2>&1; then
    DB="$T/ca/store/ztca.db"
    sql "UPDATE audit_log SET actor = 'x' WHERE seq = 1" 2>"$T/trig.err" && bad "UPDATE allowed" ||
        { grep -q "append-only" "$T/trig.err" && ok "UPDATE of audit_log refused by the database"; }
    sql "DELETE FROM audit_log" 2>"$T/trig.err" && bad "DELETE allowed" ||
        { grep -q "append-only" "$T/trig.err" && ok "DELETE from audit_log refused by the database"; }
else
    bad "fresh init"
fi
T=$T0

# init is all-or-nothing when the store cannot be created: nothing is left behind.
if "$ZTCA" init --dir "$T/nostore" --trust-domain corp.example \
    --store "sqlite:$T/no/such/dir/ztca.db" >"$T/ns.out" 2>&1; then
    bad "init with an unusable store succeeded"
else
    [ ! -e "$T/nostore" ] && grep -q "cannot open the store" "$T/ns.out" &&
        ok "init with an unusable store leaves nothing ($(head -1 "$T/ns.out"))" || bad "init leftovers: $(ls -R "$T/nostore" 2>&1)"
fi
# init into a store that already holds an audit log (here the first CA's): refused, the file
# (which init did not create) left alone, DIR left as it was.
before=$(sql "SELECT count(*) FROM audit_log")
if "$ZTCA" init --dir "$T/second" --trust-domain other.example --store "sqlite:$DB" >"$T/s.out" 2>&1; then
    bad "init into a used SQLite store succeeded"
else
    [ ! -e "$T/second" ] && [ -f "$DB" ] && [ "$(sql "SELECT count(*) FROM audit_log")" = "$before" ] &&
        grep -q "already holds an audit log" "$T/s.out" &&
        ok "init into a used SQLite store refused, the store untouched" || bad "second init: $(cat "$T/s.out")"
fi
# --store with a relative path is relative to DIR, and recorded in ztca.conf.
if "$ZTCA" init --dir "$T/rel" --trust-domain corp.example --store sqlite:data.db >/dev/null 2>&1 &&
    [ -f "$T/rel/data.db" ] && grep -q '"store": "sqlite:data.db"' "$T/rel/ztca.conf" &&
    "$ZTCA" audit verify --dir "$T/rel" | grep -q "4 entries"; then
    ok "init --store sqlite:data.db (relative to DIR)"
else
    bad "init --store relative"
fi
refuse_usage() {
    "$ZTCA" "$@" >/dev/null 2>&1
    [ $? = 2 ] && ok "usage error: ztca $*" || bad "expected a usage error: ztca $*"
}
refuse_usage init --dir "$T/bad" --trust-domain corp.example --store mysql://db/x
refuse_usage audit
refuse_usage audit verify extra

lib_sanitizer_check
if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "all checks passed"
