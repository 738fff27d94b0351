#!/usr/bin/env bash
# ztca serve end to end, on the embedded SQLite store and on a real PostgreSQL: curl and the
# ztca admin CLI as clients, openssl as the certificate verifier, python3 (stdlib ssl/socket) for
# malformed requests; 200 concurrent clients for a while with the RSS watched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need openssl version
lib_need curl --version
lib_need "$LIB_PY" -c 'import ssl'
lib_need ab -V
LOAD_SECONDS=${ZTCA_LOAD_SECONDS:-30}

T=$(mktemp -d)
lib_sanitizer_dir "$T/sanitizer"
SERVER_PID=
cleanup() {
    local rc=$? before=${fails:=0}
    [ -n "$SERVER_PID" ] && lib_stop "$SERVER_PID" "ztca serve"
    pg_stop
    lib_sanitizer_check
    rm -rf "$T"
    lib_cleanup_status "$rc" "$before"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   [$BACKEND] $*"; }
bad() { echo "FAIL [$BACKEND] $*" >&2; fails=$((fails + 1)); }
expect() { # description expected-status actual-status [body file]
    if [ "$2" = "$3" ]; then ok "$1 -> $3"; else
        bad "$1: expected $2, got $3"
        [ -n "${4:-}" ] && head -c 600 "$4" >&2 && echo >&2
    fi
}

start_server() { # dir [store args...]
    local dir=$1
    shift
    HTTPS_PORT=$(lib_free_port)
    HTTP_PORT=$(lib_free_port)
    "$ZTCA" serve --dir "$dir" --listen-https "127.0.0.1:$HTTPS_PORT" \
        --listen-http "127.0.0.1:$HTTP_PORT" "$@" 2>"$T/server-$BACKEND.log" &
    SERVER_PID=$!
    lib_wait_http "http://127.0.0.1:$HTTP_PORT/healthz" 20 || {
        bad "server did not start"
        cat "$T/server-$BACKEND.log" >&2
        exit 1
    }
}
stop_server() {
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    [ "$rc" = 0 ] && ok "SIGTERM: clean exit" || bad "SIGTERM: exit status $rc"
    lib_sanitizer_check
}

suite() { # store-url-or-empty
    local store=("$@")
    local D="$T/ca-$BACKEND"
    "$ZTCA" init --dir "$D" --trust-domain corp.example "${store[@]}" >/dev/null
    # The root key goes offline as docs/cli.md advises: everything below runs without it.
    mv "$D/private/root.key" "$T/root.key.$BACKEND"
    start_server "$D" "${store[@]}"
    local H="https://127.0.0.1:$HTTPS_PORT" P="http://127.0.0.1:$HTTP_PORT"
    local C=(curl -sS --cacert "$D/ca/root.pem" -o "$T/body" -w '%{http_code}')
    local ADMIN=(--cert "$D/admin/cert.pem" --key "$D/admin/key.pem")
    local Z=("$ZTCA")
    local ZD=(--dir "$D" --server "$H")
    local expiry_pid

    # Public routes, on both listeners.
    expect "GET /healthz (http)" 200 "$("${C[@]}" "$P/healthz")" "$T/body"
    grep -q '"status":"ok"' "$T/body" && ok "healthz body" || bad "healthz body: $(cat "$T/body")"
    expect "GET /ca/root.pem (http)" 200 "$("${C[@]}" "$P/ca/root.pem")"
    cmp -s "$T/body" "$D/ca/root.pem" && ok "root.pem is the root" || bad "root.pem differs"
    expect "GET /ca/chain.pem (https)" 200 "$("${C[@]}" "$H/ca/chain.pem")"
    cmp -s "$T/body" "$D/ca/chain.pem" && ok "chain.pem is the chain" || bad "chain.pem differs"
    expect "admin route on plain http" 403 "$("${C[@]}" "$P/v1/certs")" "$T/body"
    grep -q 'urn:ztca:problem:https-required' "$T/body" && ok "https-required problem" || bad "problem type"

    # Tokens and issuance.
    local tok
    tok=$("${Z[@]}" token create "${ZD[@]}" --user alice --ttl 10m 2>/dev/null) && ok "token create (CLI)" || bad "token create"
    [[ "$tok" =~ ^ztca_tok_[0-9a-f]{64}$ ]] && ok "token format" || bad "token format: $tok"
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/dev.key"
    openssl req -new -key "$T/dev.key" -subj /CN=whatever -out "$T/dev.csr"
    "$LIB_PY" -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read(), "ttl": "2h"}))' "$T/dev.csr" >"$T/req.json"
    local J=(-H 'Content-Type: application/json' --data-binary "@$T/req.json")
    expect "POST /v1/certs without token" 401 "$("${C[@]}" "${J[@]}" "$H/v1/certs")" "$T/body"
    expect "POST /v1/certs with a wrong token" 401 "$("${C[@]}" "${J[@]}" -H "Authorization: Bearer ztca_tok_$(printf '%064d' 0)" "$H/v1/certs")" "$T/body"
    grep -q 'token-invalid' "$T/body" && ok "token-invalid problem" || bad "token-invalid type"
    expect "POST /v1/certs with the token" 201 "$("${C[@]}" "${J[@]}" -H "Authorization: Bearer $tok" "$H/v1/certs")" "$T/body"
    cp "$T/body" "$T/issued.json"
    "$LIB_PY" - "$T/issued.json" "$T/agent.pem" "$T/chain.pem" <<'PY' && ok "answer has serial, certificate, chain, not_after, device_id" || bad "answer shape"
import json, re, sys
a = json.load(open(sys.argv[1]))
assert re.fullmatch(r"[0-9a-f]{32}", a["serial"]), a
assert re.fullmatch(r"dev-[a-z2-7]{26}", a["device_id"]), a
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["not_after"]), a
assert a["uri"] == "spiffe://corp.example/agent/%s/alice" % a["device_id"], a
open(sys.argv[2], "w").write(a["certificate"])
open(sys.argv[3], "w").write(a["chain"])
PY
    openssl verify -x509_strict -purpose sslclient -CAfile "$D/ca/root.pem" -untrusted "$D/ca/intermediate.pem" "$T/agent.pem" >/dev/null 2>&1 &&
        ok "issued certificate: openssl verify -x509_strict sslclient" || bad "issued certificate does not verify"
    cmp -s "$T/chain.pem" "$D/ca/chain.pem" && ok "answer chain = ca/chain.pem" || bad "answer chain"
    local serial device
    serial=$("$LIB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$T/issued.json")
    device=$("$LIB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$T/issued.json")
    expect "token reuse" 401 "$("${C[@]}" "${J[@]}" -H "Authorization: Bearer $tok" "$H/v1/certs")" "$T/body"
    local short
    short=$("${Z[@]}" token create "${ZD[@]}" --user alice --ttl 1s 2>/dev/null)
    sleep 2
    expect "expired token" 401 "$("${C[@]}" "${J[@]}" -H "Authorization: Bearer $short" "$H/v1/certs")" "$T/body"
    local tok2
    tok2=$("${Z[@]}" token create "${ZD[@]}" --user alice 2>/dev/null)
    "$LIB_PY" -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read(), "ttl": "25h"}))' "$T/dev.csr" >"$T/long.json"
    expect "TTL over the agent cap" 400 "$("${C[@]}" -H 'Content-Type: application/json' --data-binary "@$T/long.json" -H "Authorization: Bearer $tok2" "$H/v1/certs")" "$T/body"
    grep -q 'ttl-too-long' "$T/body" && ok "ttl-too-long problem" || bad "ttl problem: $(cat "$T/body")"
    expect "the refused request left the token usable" 201 "$("${C[@]}" "${J[@]}" -H "Authorization: Bearer $tok2" "$H/v1/certs")" "$T/body"

    # Admin routes: no certificate, a device certificate, the admin certificate.
    expect "GET /v1/certs without a client certificate" 401 "$("${C[@]}" "$H/v1/certs")" "$T/body"
    expect "GET /v1/certs with an agent certificate" 403 "$("${C[@]}" --cert "$T/agent.pem" --key "$T/dev.key" "$H/v1/certs")" "$T/body"
    expect "GET /v1/certs as admin" 200 "$("${C[@]}" "${ADMIN[@]}" "$H/v1/certs")" "$T/body"
    grep -q "\"$serial\"" "$T/body" && ok "list has the new certificate" || bad "list lacks $serial"
    expect "GET /v1/certs/{serial}" 200 "$("${C[@]}" "${ADMIN[@]}" "$H/v1/certs/$serial")" "$T/body"
    expect "GET /v1/certs/{unknown}" 404 "$("${C[@]}" "${ADMIN[@]}" "$H/v1/certs/00ff")" "$T/body"
    expect "GET /v1/certs/{malformed}" 400 "$("${C[@]}" "${ADMIN[@]}" "$H/v1/certs/XYZ")" "$T/body"
    expect "GET /v1/devices/{id}" 200 "$("${C[@]}" "${ADMIN[@]}" "$H/v1/devices/$device")" "$T/body"
    grep -q '"user":"alice"' "$T/body" && ok "device lists its agent" || bad "device agents"
    "${Z[@]}" cert list "${ZD[@]}" >"$T/list.txt" 2>&1 && grep -q "$serial" "$T/list.txt" && ok "ztca cert list (table)" || bad "ztca cert list"
    "${Z[@]}" cert show "${ZD[@]}" --json "$serial" >"$T/show.json" 2>&1 && grep -q '"status": "good"' "$T/show.json" && ok "ztca cert show --json" || bad "ztca cert show"
    "${Z[@]}" device list "${ZD[@]}" --json | grep -q "$device" && ok "ztca device list --json" || bad "ztca device list"

    # Revocation of one certificate, and of a device.
    "${Z[@]}" cert revoke "${ZD[@]}" "$serial" --reason keyCompromise >/dev/null && ok "ztca cert revoke" || bad "ztca cert revoke"
    expect "revoked status" 200 "$("${C[@]}" "${ADMIN[@]}" "$H/v1/certs/$serial")" "$T/body"
    grep -q '"status":"revoked"' "$T/body" && grep -q '"reason":"keyCompromise"' "$T/body" && ok "status revoked, keyCompromise" || bad "revocation not recorded"
    "${Z[@]}" cert revoke "${ZD[@]}" "$serial" >/dev/null 2>"$T/err" && bad "second revoke succeeded" || { grep -q 409 "$T/err" && ok "second revoke: 409" || bad "second revoke: $(cat "$T/err")"; }
    expect "agent cert revoked: admin route now 401 for it" 401 "$("${C[@]}" --cert "$T/agent.pem" --key "$T/dev.key" "$H/v1/certs")" "$T/body"
    "${Z[@]}" device revoke "${ZD[@]}" "$device" >"$T/out" && grep -q "revoked $device" "$T/out" && ok "ztca device revoke" || bad "device revoke: $(cat "$T/out")"
    local tok3
    tok3=$("${Z[@]}" token create "${ZD[@]}" --user alice 2>/dev/null)
    expect "revoked device cannot get a certificate" 403 "$("${C[@]}" "${J[@]}" -H "Authorization: Bearer $tok3" "$H/v1/certs")" "$T/body"
    grep -q 'device-revoked' "$T/body" && ok "device-revoked problem" || bad "device-revoked type"

    # A second admin, revoked by the first, is locked out.
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/admin2.key"
    openssl req -new -key "$T/admin2.key" -subj /CN=x -out "$T/admin2.csr"
    "${Z[@]}" issue --dir "$D" "${store[@]}" --csr "$T/admin2.csr" --profile admin --user bob --out "$T/admin2.pem" 2>"$T/issue.err"
    local serial2
    serial2=$(sed -n 's/.*serial=\([0-9a-f]*\).*/\1/p' "$T/issue.err")
    expect "second admin works" 200 "$("${C[@]}" --cert "$T/admin2.pem" --key "$T/admin2.key" "$H/v1/devices")" "$T/body"
    # The revocation happens while the second admin holds a connection that was let in: a
    # connection's chain check is kept between its requests, its revocation never is.
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/pep.key"
    openssl req -new -key "$T/pep.key" -subj /CN=x -out "$T/pep.csr"
    "${Z[@]}" issue --dir "$D" "${store[@]}" --csr "$T/pep.csr" --profile pep --user nginx-1 --out "$T/pep.pem" 2>/dev/null
    "$LIB_PY" "$here/peer_keepalive.py" 127.0.0.1 "$HTTPS_PORT" "$D/ca/root.pem" "$T/admin2.pem" \
        "$T/admin2.key" "$T/pep.pem" "$T/pep.key" -- "${Z[@]}" cert revoke "${ZD[@]}" "$serial2" \
        --reason privilegeWithdrawn >"$T/keepalive.txt" 2>&1 && ok "revoke second admin on its open connection" ||
        bad "keep-alive client certificates: $(cat "$T/keepalive.txt")"
    sed 's/^ok   /  /' "$T/keepalive.txt"
    expect "revoked admin certificate" 401 "$("${C[@]}" --cert "$T/admin2.pem" --key "$T/admin2.key" "$H/v1/devices")" "$T/body"
    expect "GET /v1/audit" 200 "$("${C[@]}" "${ADMIN[@]}" "$H/v1/audit?limit=1000")" "$T/body"
    for a in token.create cert.issue cert.revoke device.revoke; do
        grep -q "\"action\":\"$a\"" "$T/body" && ok "audit has $a" || bad "audit lacks $a"
    done

    # Malformed requests: never a 5xx, never a crash; the server keeps serving.
    "$LIB_PY" "$here/api_bad_requests.py" 127.0.0.1 "$HTTPS_PORT" "$HTTP_PORT" "$D" >"$T/bad.txt" 2>&1 &&
        ok "$(tail -1 "$T/bad.txt")" || { bad "malformed requests"; tail -20 "$T/bad.txt" >&2; }
    expect "still serving after the malformed requests" 200 "$("${C[@]}" "$P/healthz")"

    # An admin certificate of 60 s, its connection opened 20 s before notAfter and used again 2 s
    # after it: refused then, although a connection's chain check is otherwise kept 60 s. Started
    # here, after the malformed requests, so that its requests fall after the load below (one
    # minute in the background; collected before the server stops).
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/short.key"
    openssl req -new -key "$T/short.key" -subj /CN=x -out "$T/short.csr"
    "${Z[@]}" issue --dir "$D" "${store[@]}" --csr "$T/short.csr" --profile admin --user carol \
        --ttl 60s --out "$T/short.pem" 2>/dev/null
    local short_end
    short_end=$(date -d "$(openssl x509 -enddate -noout -in "$T/short.pem" | cut -d= -f2)" +%s)
    "$LIB_PY" "$here/peer_keepalive.py" --expiry 127.0.0.1 "$HTTPS_PORT" "$D/ca/root.pem" \
        "$T/short.pem" "$T/short.key" "$short_end" >"$T/expiry.txt" 2>&1 &
    expiry_pid=$!

    # Load: 200 concurrent clients on the HTTPS listener (a TLS handshake each), RSS watched.
    local rss0 rss1
    alive() { # the server must still run; if not, say how it ended
        kill -0 "$SERVER_PID" 2>/dev/null && return 0
        local rc=0
        wait "$SERVER_PID" || rc=$?
        bad "the server died ($1): exit status $rc"
        grep -v '"event":"request"' "$T/server-$BACKEND.log" | tail -20 >&2
        SERVER_PID=
        exit 1
    }
    alive "before the load"
    ab -q -n 2000 -c 200 "$P/healthz" >/dev/null 2>&1 || true # warm up the allocator
    alive "after the warm-up"
    rss0=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
    ab -q -t "$LOAD_SECONDS" -n 100000000 -c 200 -l "$H/healthz" >"$T/ab.txt" 2>&1 || true
    rss1=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
    local done_n failed_n non2xx
    done_n=$(awk '/^Complete requests/ {print $3}' "$T/ab.txt")
    failed_n=$(awk '/^Failed requests/ {print $3}' "$T/ab.txt")
    non2xx=$(awk '/^Non-2xx responses/ {print $3}' "$T/ab.txt")
    [ -n "$done_n" ] && [ "$done_n" -gt 0 ] && [ "${failed_n:-1}" = 0 ] && [ -z "$non2xx" ] &&
        ok "load: $done_n HTTPS requests by 200 clients in ${LOAD_SECONDS}s, none failed" ||
        { bad "load: complete=$done_n failed=$failed_n non2xx=$non2xx"; tail -30 "$T/ab.txt" >&2; }
    echo "RSS before ${rss0} kB, after ${rss1} kB"
    if [ -n "${ZTCA_SANITIZED:-}" ]; then
        ok "RSS not judged under ASan (its quarantine holds freed memory): +$((rss1 - rss0)) kB"
    else
        [ "$rss1" -lt $((rss0 + 20000)) ] && ok "RSS stable under load (+$((rss1 - rss0)) kB)" || bad "RSS grew from $rss0 to $rss1 kB"
    fi
    expect "still serving after the load" 200 "$("${C[@]}" "$P/healthz")"
    expect "metrics count requests" 200 "$("${C[@]}" "$P/metrics")" "$T/body"
    grep -q 'ztca_http_requests_total{method="POST",route="/v1/certs",status="201"} 2' "$T/body" && ok "metrics: 2 issuances counted" || bad "metrics content"
    grep -q 'ztca_certificates_issued_total{profile="agent"} 2' "$T/body" && ok "metrics: issued by profile" || bad "issued metric"
    commits=$(sed -n 's/^ztca_store_commits_total \([0-9]*\)$/\1/p' "$T/body")
    members=$(sed -n 's/^ztca_store_commit_members_total \([0-9]*\)$/\1/p' "$T/body")
    # Every token and issuance above was a durable commit; group commit can only merge them.
    [ -n "$commits" ] && [ "$commits" -ge 1 ] && [ -n "$members" ] && [ "$members" -ge "$commits" ] &&
        ok "metrics: store commits $commits covering $members writes" || bad "store metrics: commits=$commits members=$members"
    wal=$(sed -n 's/^ztca_store_wal_bytes \([0-9]*\)$/\1/p' "$T/body")
    if [ "$BACKEND" = sqlite ]; then
        # The gauge is the -wal file's size at the scrape; the file never shrinks while served.
        wal_now=$(stat -c %s "$D/store/ztca.db-wal" 2>/dev/null || echo 0)
        [ -n "$wal" ] && [ "$wal" -gt 0 ] && [ "$wal" -le "$wal_now" ] &&
            ok "metrics: SQLite WAL $wal bytes" || bad "WAL metric: '$wal', file: $wal_now"
    else
        [ -z "$wal" ] && ok "metrics: no WAL gauge on PostgreSQL" || bad "WAL gauge on PostgreSQL: $wal"
    fi
    wait "$expiry_pid" && ok "$(cut -c6- "$T/expiry.txt")" || bad "client certificate expiry: $(cat "$T/expiry.txt")"
    stop_server
    grep -q '"event":"request"' "$T/server-$BACKEND.log" && ok "JSON request log lines" || bad "no request log"
    if grep -q "$tok\|ztca_tok_" "$T/server-$BACKEND.log"; then bad "a token reached the log"; else ok "no token in the log"; fi
}

BACKEND=sqlite
suite

BACKEND=postgresql
if pg_start "$T/pg"; then
    suite --store "$PG_URL"
else
    echo "PostgreSQL could not start" >&2
    [ "${ZTCA_CI:-0}" = 1 ] && exit 1
    [ "$fails" -eq 0 ] && exit 77
fi

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "all checks passed"
