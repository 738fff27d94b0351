# store_checks.sh: the store's integration checks through the ztca CLI, sourced by
# test_store.sh (SQLite) and test_store_pg.sh (PostgreSQL) so both backends pass the same ones.
# The caller defines:
#   ZTCA            the ztca binary
#   T               a scratch directory
#   STORE_FLAG      array: () for the default SQLite store, or (--store URL)
#   sql QUERY       prints the result of one query (one value per line), straight from the database
#   sql_exec SQL    runs statements straight on the database, fails on error
#   disable_audit_triggers   lets sql_exec change audit_log (an attacker with database access)
# and gets ok/bad/fails from here.

# The newest store schema this build knows (store/store.h).
SCHEMA_V=$(sed -n 's/^#define STORE_SCHEMA_VERSION \([0-9]*\).*/\1/p' "${ZTCA_SOURCE_DIR:?}/store/store.h")

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*" >&2; fails=$((fails + 1)); }

store_checks_csr() {
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/dev.key"
    openssl req -new -key "$T/dev.key" -subj /CN=store-test -out "$T/dev.csr"
}

# issue_one OUT DEVICE: one device certificate written to OUT (only after the commit).
issue_one() {
    "$ZTCA" issue --dir "$T/ca" "${STORE_FLAG[@]}" --csr "$T/dev.csr" --profile device \
        --device-id "$2" --out "$1" 2>/dev/null
}

serial_of() { # pem -> lowercase hex serial as the store keeps it
    openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f'
}

verify_count() { # prints the entry count of an intact chain, or fails
    "$ZTCA" audit verify --dir "$T/ca" "${STORE_FLAG[@]}" 2>"$T/verify.err" |
        sed -n 's/^audit chain intact: \([0-9]*\) entries, head [0-9a-f]\{64\}$/\1/p' | grep .
}

check_init() {
    if "$ZTCA" init --dir "$T/ca" --trust-domain corp.example "${STORE_FLAG[@]}" >"$T/init.out" 2>&1; then
        ok "init creates and migrates the store"
    else
        bad "init"
        cat "$T/init.out" >&2
        return
    fi
    [ "$(sql "SELECT max(version) FROM ztca_schema")" = "$SCHEMA_V" ] && ok "schema version $SCHEMA_V recorded" ||
        bad "schema version: $(sql "SELECT max(version) FROM ztca_schema")"
    [ "$(sql "SELECT count(*) FROM certificates")" = 3 ] && ok "init recorded 3 certificates" ||
        bad "init certificates: $(sql "SELECT count(*) FROM certificates")"
    [ "$(sql "SELECT profile FROM certificates ORDER BY profile" | tr '\n' ' ')" = "admin ocsp server " ] &&
        ok "init recorded the admin, OCSP and server certificates" || bad "init profiles"
    local s
    for f in admin/cert.pem ca/ocsp.pem; do
        s=$(serial_of "$T/ca/$f")
        [ "$(sql "SELECT count(*) FROM certificates WHERE serial = '$s'")" = 1 ] &&
            ok "$f is in the store" || bad "$f ($s) not in the store"
    done
    [ "$(verify_count)" = 4 ] && ok "audit chain: ca.init + 3 issuances" || bad "audit after init: $(cat "$T/verify.err")"
    [ "$(sql "SELECT action FROM audit_log WHERE seq = 1")" = ca.init ] && ok "first entry is ca.init" ||
        bad "first entry"
    # A second init into the same (non-empty) store is refused and changes nothing in it.
    if [ "${#STORE_FLAG[@]}" -gt 0 ]; then
        if "$ZTCA" init --dir "$T/ca2" --trust-domain other.example "${STORE_FLAG[@]}" >"$T/init2.out" 2>&1; then
            bad "init into a used store succeeded"
        else
            grep -q "already holds an audit log" "$T/init2.out" && [ ! -e "$T/ca2" ] &&
                ok "init into a used store refused, DIR left as it was" || bad "init2: $(cat "$T/init2.out")"
        fi
        [ "$(verify_count)" = 4 ] && ok "refused init wrote nothing" || bad "refused init changed the store"
    fi
}

check_issue() {
    if issue_one "$T/one.pem" laptop-1; then
        local s
        s=$(serial_of "$T/one.pem")
        [ "$(sql "SELECT device_id || '/' || profile || '/' || status FROM certificates WHERE serial = '$s'")" = "laptop-1/device/0" ] &&
            ok "issued certificate recorded (device, profile, status)" || bad "issued row"
        [ "$(sql "SELECT count(*) FROM audit_log WHERE action = 'cert.issue' AND subject = '$s'")" = 1 ] &&
            ok "its audit entry names the serial" || bad "issue audit entry"
        [ "$(sql "SELECT length(der) FROM certificate_bodies WHERE serial = '$s'")" = \
            "$(openssl x509 -in "$T/one.pem" -outform DER | wc -c)" ] &&
            ok "the store keeps the DER" || bad "stored DER length"
    else
        bad "issue"
    fi
}

# Two processes issuing at the same time: no collision, nothing lost.
check_concurrency() {
    local per=15 before after
    before=$(sql "SELECT count(*) FROM certificates")
    mkdir -p "$T/conc"
    for p in 1 2; do
        (for i in $(seq "$per"); do issue_one "$T/conc/$p-$i.pem" "conc-$p-$i" || echo "$p-$i" >>"$T/conc/failed"; done) &
    done
    wait
    [ ! -e "$T/conc/failed" ] && ok "2 x $per concurrent issuances all succeeded" ||
        bad "concurrent issuances failed: $(tr '\n' ' ' <"$T/conc/failed")"
    after=$(sql "SELECT count(*) FROM certificates")
    [ "$after" = $((before + 2 * per)) ] && ok "all $((2 * per)) rows present" || bad "rows: $before -> $after"
    local missing=0 serials
    serials=$(for f in "$T"/conc/*.pem; do serial_of "$f"; done | sort)
    [ "$(echo "$serials" | uniq | wc -l)" = $((2 * per)) ] && ok "serials distinct" || bad "duplicate serials"
    for s in $serials; do
        [ "$(sql "SELECT count(*) FROM certificates WHERE serial = '$s'")" = 1 ] || missing=$((missing + 1))
    done
    [ "$missing" = 0 ] && ok "every handed-out serial is in the store" || bad "$missing serials missing"
    [ "$(verify_count)" = "$(sql "SELECT count(*) FROM audit_log")" ] && ok "audit chain intact after concurrency" ||
        bad "audit after concurrency: $(cat "$T/verify.err")"
}

# SIGKILL in a loop while issuing: whatever was handed out (the --out file exists: it is written
# only after the commit) is in the store, every row has its audit entry, the chain verifies.
check_crash() {
    local rounds=${1:-25} handed=0 missing=0
    mkdir -p "$T/crash"
    local I=("$ZTCA" issue --dir "$T/ca" "${STORE_FLAG[@]}" --csr "$T/dev.csr" --profile device)
    # Kill at a random moment within about one issuance (measured here: sanitizer builds are
    # slower), so some die before, some inside and some after the transaction.
    local t0 ms
    t0=$(date +%s%N)
    issue_one "$T/crash/timing-a.pem" crash-timing-a &
    issue_one "$T/crash/timing-b.pem" crash-timing-b
    wait
    ms=$((($(date +%s%N) - t0) / 1000000 + 5))
    rm -f "$T"/crash/timing-*.pem
    # A kill that lands during a sanitizer build's leak check at exit makes LeakSanitizer's tracer
    # report a fatal error (not a leak) into the report directory: these runs are not leak-checked.
    local san="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    for r in $(seq "$rounds"); do
        # Simple commands, so that $! is ztca itself and not a subshell around it.
        ASAN_OPTIONS=$san "${I[@]}" --device-id "crash-$r-a" --out "$T/crash/$r-a.pem" 2>/dev/null &
        local a=$!
        ASAN_OPTIONS=$san "${I[@]}" --device-id "crash-$r-b" --out "$T/crash/$r-b.pem" 2>/dev/null &
        local b=$!
        sleep "$(awk -v ms="$ms" -v r="$RANDOM" 'BEGIN { printf "%.3f", ms * 1.3 * r / 32768 / 1000 }')"
        kill -9 "$a" "$b" 2>/dev/null
        wait "$a" "$b" 2>/dev/null
    done
    for f in "$T"/crash/*.pem; do
        [ -e "$f" ] || continue
        case $f in *.tmp~) continue ;; esac
        handed=$((handed + 1))
        s=$(serial_of "$f")
        [ "$(sql "SELECT count(*) FROM certificates WHERE serial = '$s'")" = 1 ] || missing=$((missing + 1))
    done
    local killed=$((2 * rounds - handed))
    [ "$missing" = 0 ] && ok "crash: all $handed handed-out certificates are in the store ($killed killed first)" ||
        bad "crash: $missing of $handed handed-out certificates missing"
    [ "$(sql "SELECT count(*) FROM certificates c WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.subject = c.serial AND a.action = 'cert.issue')")" = 0 ] &&
        ok "crash: every certificate row has its audit entry" || bad "crash: rows without audit entries"
    [ "$(sql "SELECT count(*) FROM audit_log WHERE action = 'cert.issue'")" = "$(sql "SELECT count(*) FROM certificates")" ] &&
        ok "crash: no audit entry without its row" || bad "crash: audit entries without rows"
    [ -n "$(verify_count)" ] && ok "crash: audit chain verifies" || bad "crash: $(cat "$T/verify.err")"
}

# Changing any audit row makes `ztca audit verify` fail and name that row.
check_tamper() {
    local n cols col
    n=$(sql "SELECT count(*) FROM audit_log")
    disable_audit_triggers
    sql_exec "CREATE TABLE keep AS SELECT * FROM audit_log"
    cols=("actor = 'cli:uid=666'" "action = 'cert.revoke'" "subject = 'forged'"
        "detail = '{\"forged\":true}'" "at = at + 1" "hash = prev_hash" "prev_hash = hash")
    local named=0 wrong=0
    for k in $(seq "$n"); do
        col=${cols[$((k % ${#cols[@]}))]}
        sql_exec "UPDATE audit_log SET $col WHERE seq = $k"
        if "$ZTCA" audit verify --dir "$T/ca" "${STORE_FLAG[@]}" >"$T/t.out" 2>"$T/t.err"; then
            wrong=$((wrong + 1))
            echo "  tamper $k ($col): verify passed" >&2
        elif grep -q "broken at entry $k (seq=$k)" "$T/t.err"; then
            named=$((named + 1))
        else
            wrong=$((wrong + 1))
            echo "  tamper $k ($col): $(cat "$T/t.err")" >&2
        fi
        sql_exec "DELETE FROM audit_log; INSERT INTO audit_log SELECT * FROM keep"
    done
    [ "$wrong" = 0 ] && ok "tamper: each of the $n audit rows changed in turn was named ($named)" ||
        bad "tamper: $wrong of $n rows not named"
    # Deleting a row in the middle and the newest row.
    local mid=$((n / 2))
    sql_exec "DELETE FROM audit_log WHERE seq = $mid"
    "$ZTCA" audit verify --dir "$T/ca" "${STORE_FLAG[@]}" 2>"$T/t.err" >/dev/null
    [ $? = 1 ] && grep -q "broken at entry $mid (seq=$mid): missing" "$T/t.err" &&
        ok "tamper: a deleted row is named ($mid)" || bad "deleted row: $(cat "$T/t.err")"
    sql_exec "DELETE FROM audit_log; INSERT INTO audit_log SELECT * FROM keep"
    sql_exec "DELETE FROM audit_log WHERE seq = $n"
    "$ZTCA" audit verify --dir "$T/ca" "${STORE_FLAG[@]}" 2>"$T/t.err" >/dev/null
    [ $? = 1 ] && grep -q "broken at entry $n (seq=$n): missing: the chain head" "$T/t.err" &&
        ok "tamper: a deleted newest row is named ($n)" || bad "deleted newest row: $(cat "$T/t.err")"
    sql_exec "DELETE FROM audit_log; INSERT INTO audit_log SELECT * FROM keep; DROP TABLE keep"
    [ "$(verify_count)" = "$n" ] && ok "tamper: restored chain verifies again" || bad "restore"
}

# Migrations: re-open is a no-op, a newer schema is refused with a clear message.
check_migrations() {
    issue_one "$T/m1.pem" mig-1 && [ "$(sql "SELECT count(*) FROM ztca_schema")" = "$SCHEMA_V" ] &&
        ok "re-open: nothing migrated again" || bad "re-open"
    sql_exec "INSERT INTO ztca_schema (version, name, applied_at) VALUES ($((SCHEMA_V + 1)), 'future', 0)"
    if "$ZTCA" issue --dir "$T/ca" "${STORE_FLAG[@]}" --csr "$T/dev.csr" --profile device \
        --device-id mig-2 --out "$T/m2.pem" 2>"$T/m.err"; then
        bad "a newer schema was accepted"
    else
        grep -q "newer than this ztca knows" "$T/m.err" && grep -q "knows store schema version $SCHEMA_V" "$T/m.err" &&
            [ ! -e "$T/m2.pem" ] && ok "newer schema refused: $(head -1 "$T/m.err")" || bad "newer schema: $(cat "$T/m.err")"
    fi
    "$ZTCA" audit verify --dir "$T/ca" "${STORE_FLAG[@]}" >/dev/null 2>"$T/m.err"
    [ $? = 1 ] && grep -q "newer than this ztca" "$T/m.err" && ok "audit verify refuses it too" || bad "verify on newer schema"
    sql_exec "DELETE FROM ztca_schema WHERE version = $((SCHEMA_V + 1))"
    issue_one "$T/m3.pem" mig-3 && ok "usable again without the future version" || bad "after removing the future version"
}

store_checks_all() {
    local start=$SECONDS
    store_checks_csr
    check_init
    check_issue
    check_concurrency
    check_crash 25
    check_migrations
    check_tamper
    echo "store checks took $((SECONDS - start)) s"
}
