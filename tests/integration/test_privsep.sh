#!/usr/bin/env bash
# Privilege separation of `ztca serve --user` (docs/hardening.md): the network process runs as an
# unprivileged user (checked in /proc: ids, groups, no_new_privs, no capabilities, not dumpable,
# every thread), cannot read the key files, and still issues (API), answers OCSP and serves the
# CRL, all judged by openssl; the OCSP signer rotation goes through the signer process; killing
# the signer process makes signing routes answer 503 while the server stays up; and the start is
# refused for a key file that is not 0600, not owned by the signer's user, or a store the user
# does not own.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need openssl version
lib_need curl --version
lib_need runuser --version
lib_need sqlite3 --version
if [ "$(id -u)" -ne 0 ]; then
    echo "needs root (useradd, --user)" >&2
    [ "${ZTCA_CI:-0}" = 1 ] && exit 1
    exit 77
fi

# store_checks.sh: serial and audit helpers (its ok/bad/fails are lib.sh's, reset by lib_harness).
STORE_FLAG=()
sql() { sqlite3 "$D/store/ztca.db" "$1"; }
# shellcheck source=store_checks.sh
. "$here/store_checks.sh"
lib_harness
SLOW=1
[ -n "${ZTCA_SANITIZED:-}" ] && SLOW=3
chmod 755 "$T" # the service user walks to DIR/ca, DIR/ztca.conf and DIR/store

U=ztca-privsep-test
id -u "$U" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$U"
UID_U=$(id -u "$U")
GID_U=$(id -g "$U")

HTTP=$(lib_free_port)
HTTPS=$(lib_free_port)
D="$T/ca"
"$ZTCA" init --dir "$D" --trust-domain corp.example --public-url "http://127.0.0.1:$HTTP" \
    --api-url "https://127.0.0.1:$HTTPS" >/dev/null
chown -R "$U:" "$D/store"

serve() { # log args... -> pid in SERVER, or 1 when it does not come up
    local log=$1
    shift
    "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$HTTP" --listen-https "127.0.0.1:$HTTPS" \
        "$@" 2>>"$log" &
    SERVER=$!
    PIDS+=("$SERVER")
    lib_wait_http "http://127.0.0.1:$HTTP/healthz" 20
}
stop() { # every server: exit 0 on SIGTERM, no sanitizer report (lib_stop)
    local p
    for p in "${PIDS[@]}"; do lib_stop "$p" "ztca serve"; done
}
field() { # pid field -> the value of "Field:" in /proc/pid/status, tabs as spaces
    sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr '\t' ' ' | sed 's/ *$//'
}

# ---- the network process and the signer process ----
serve "$T/serve.log" --user "$U" || { bad "server with --user did not start"; cat "$T/serve.log" >&2; exit 1; }
N=$SERVER
S=$(ps -o pid= --ppid "$N" | tr -d ' ' | head -1)
[ -n "$S" ] && ok "signer process $S is a child of the network process $N" || bad "no signer process"
grep -q "event=privileges_dropped user=$U uid=$UID_U gid=$GID_U" "$T/serve.log" && ok "drop logged" || bad "no privileges_dropped line"
[ "$(field "$N" Uid)" = "$UID_U $UID_U $UID_U $UID_U" ] && ok "network process Uid: all $UID_U" || bad "Uid: $(field "$N" Uid)"
[ "$(field "$N" Gid)" = "$GID_U $GID_U $GID_U $GID_U" ] && ok "network process Gid: all $GID_U" || bad "Gid: $(field "$N" Gid)"
[ -z "$(field "$N" Groups)" ] && ok "no supplementary groups" || bad "Groups: $(field "$N" Groups)"
[ "$(field "$N" NoNewPrivs)" = 1 ] && ok "NoNewPrivs: 1" || bad "NoNewPrivs: $(field "$N" NoNewPrivs)"
caps_ok=yes
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
    [ "$(field "$N" $c)" = 0000000000000000 ] || { caps_ok="$c=$(field "$N" $c)"; break; }
done
[ "$caps_ok" = yes ] && ok "no capabilities (inheritable, permitted, effective, bounding, ambient)" || bad "capabilities: $caps_ok"
threads_ok=0
threads_bad=0
for st in /proc/"$N"/task/*/status; do
    if grep -q "^Uid:[[:space:]]*$UID_U[[:space:]]*$UID_U[[:space:]]*$UID_U[[:space:]]*$UID_U$" "$st" &&
        grep -q "^NoNewPrivs:[[:space:]]*1$" "$st" && grep -q "^CapEff:[[:space:]]*0000000000000000$" "$st"; then
        threads_ok=$((threads_ok + 1))
    else
        threads_bad=$((threads_bad + 1))
    fi
done
[ "$threads_bad" = 0 ] && [ "$threads_ok" -gt 3 ] && ok "every thread ($threads_ok) unprivileged" || bad "threads: $threads_ok ok, $threads_bad not"
# PR_SET_DUMPABLE 0: /proc/PID files of a non-dumpable process belong to root, not to the user.
[ "$(stat -c %u "/proc/$N/environ")" = 0 ] && ok "not dumpable (/proc/$N/environ owned by root)" || bad "dumpable"
[ "$(field "$S" Uid | cut -d' ' -f1)" = 0 ] && ok "signer process keeps uid 0 (it owns the keys)" || bad "signer Uid: $(field "$S" Uid)"
[ "$(field "$S" NoNewPrivs)" = 1 ] && ok "signer process: NoNewPrivs 1" || bad "signer NoNewPrivs"
# One signing thread per CPU, 8 to 64 (docs/performance.md "Threads and cores").
want=$(getconf _NPROCESSORS_ONLN)
want=$((want < 8 ? 8 : want > 64 ? 64 : want))
[ "$(field "$S" Threads)" = "$want" ] && ok "signer process: $want signing threads for $(getconf _NPROCESSORS_ONLN) online CPUs" ||
    bad "signer process: $(field "$S" Threads) threads, expected $want"

# ---- the network process's user cannot read the keys ----
for k in intermediate ocsp server root; do
    if runuser -u "$U" -- cat "$D/private/$k.key" >/dev/null 2>&1; then
        bad "user $U reads private/$k.key"
    else
        ok "user $U (uid $UID_U, the network process's) cannot read private/$k.key"
    fi
done
runuser -u "$U" -- cat "$D/ztca.conf" >/dev/null 2>&1 && ok "... but reads ztca.conf (SIGHUP reload)" || bad "user cannot read ztca.conf"

# ---- issuance, OCSP and CRL through the signer process ----
C=(curl -sS --cacert "$D/ca/root.pem" -o "$T/body" -w '%{http_code}')
tok=$("$ZTCA" token create --dir "$D" --user alice --ttl 10m 2>/dev/null) && ok "token create (admin mTLS to the dropped server)" || bad "token create"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/dev.key"
openssl req -new -key "$T/dev.key" -subj /CN=whatever -out "$T/dev.csr"
"$LIB_PY" -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read()}))' "$T/dev.csr" >"$T/req.json"
J=(-H 'Content-Type: application/json' --data-binary "@$T/req.json")
code=$("${C[@]}" "${J[@]}" -H "Authorization: Bearer $tok" "https://127.0.0.1:$HTTPS/v1/certs")
[ "$code" = 201 ] && ok "POST /v1/certs: 201" || bad "POST /v1/certs: $code $(cat "$T/body")"
"$LIB_PY" -c 'import json,sys; open(sys.argv[2],"w").write(json.load(open(sys.argv[1]))["certificate"])' "$T/body" "$T/agent.pem"
openssl verify -x509_strict -CAfile "$D/ca/root.pem" -untrusted "$D/ca/intermediate.pem" "$T/agent.pem" >/dev/null 2>&1 &&
    ok "issued certificate verifies (openssl verify -x509_strict)" || bad "issued certificate does not verify"
O=(openssl ocsp -issuer "$D/ca/intermediate.pem" -url "http://127.0.0.1:$HTTP/ocsp" -CAfile "$D/ca/root.pem")
"${O[@]}" -cert "$T/agent.pem" >"$T/ocsp.txt" 2>&1 || true
grep -q "Response verify OK" "$T/ocsp.txt" && grep -q "$T/agent.pem: good" "$T/ocsp.txt" &&
    ok "OCSP (nonce, signed now): good, Response verify OK" || bad "OCSP: $(cat "$T/ocsp.txt")"
"${O[@]}" -cert "$T/agent.pem" -no_nonce >/dev/null 2>&1 || true # fills the pre-signed cache
curl -sS -o "$T/crl.der" "http://127.0.0.1:$HTTP/crl"
openssl crl -inform DER -in "$T/crl.der" -CAfile "$D/ca/intermediate.pem" -noout >"$T/crl.txt" 2>&1 &&
    grep -q "verify OK" "$T/crl.txt" && ok "CRL signed through the signer process verifies" || bad "CRL: $(cat "$T/crl.txt")"

# ---- the signer process dies under load: ztca serve stops by itself, exit 75 ----
# A client loop (faults_client.py, two workers: token, issuance, every second one revoked)
# runs through the API while the signer process is killed; what it was handed is then held
# against the store (as in test_faults.sh).
L="$T/load"
mkdir -p "$L"
touch "$L/issued" "$L/revoked" "$L/events"
for i in 1 2; do
    openssl ecparam -name prime256v1 -genkey -noout -out "$L/key.$i"
    openssl req -new -key "$L/key.$i" -subj /CN=load -out "$L/csr.$i"
done
"$LIB_PY" "$here/faults_client.py" "$D" "$HTTPS" "$L" "$L/csr.1" "$L/csr.2" 2>"$L/client.err" &
CLIENT=$!
PIDS+=("$CLIENT")
for _ in $(seq $((300 * SLOW))); do [ "$(wc -l <"$L/issued")" -ge 4 ] && break; sleep 0.1; done
n=$(wc -l <"$L/issued")
[ "$n" -ge 4 ] && ok "client loop issues through the signer process ($n so far)" || bad "client loop: $n issued: $(tail -3 "$L/client.err")"
t0=$(date +%s%N)
kill -KILL "$S"
# Bounded only so that a broken build cannot hang the test: the grace is 2 s.
for _ in $(seq $((200 * SLOW))); do kill -0 "$N" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$N" 2>/dev/null; then
    bad "ztca serve still running $((10 * SLOW)) s after its signer process died"
    kill -TERM "$N"
fi
rc=0
wait "$N" 2>/dev/null || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
lib_pids_drop "$N"
[ "$rc" = 75 ] && ok "ztca serve exited 75 (EX_TEMPFAIL) ${ms} ms after kill -9 of its signer process" ||
    bad "ztca serve after kill -9 of its signer process: exit $rc after ${ms} ms"
grep -q "event=signer_exited status=-1 signal=9" "$T/serve.log" && grep -q "event=stopping reason=signer_exited" "$T/serve.log" &&
    grep -q "event=stopped status=75" "$T/serve.log" && ok "logged: signer_exited signal=9, stopping, stopped status=75" ||
    bad "log: $(grep -m3 'signer_exited\|stopping\|stopped' "$T/serve.log")"
kill -0 "$S" 2>/dev/null && bad "signer process $S still there" || ok "no process of the pair left"
touch "$L/stop"
wait "$CLIENT" || bad "the client loop failed: $(tail -3 "$L/client.err")"
lib_pids_drop "$CLIENT"
lib_sanitizer_check

# What the client was handed, against the store (the helpers of store_checks.sh).
missing=0
differ=0
while read -r s; do
    [ -n "$s" ] || continue
    der=$(openssl x509 -in "$L/certs/$s.pem" -outform DER | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F)
    case "$(sql "SELECT hex(b.der) FROM certificates c JOIN certificate_bodies b USING (serial) WHERE c.serial = '$s'")" in
    "$der") ;;
    "") missing=$((missing + 1)) ;;
    *) differ=$((differ + 1)) ;;
    esac
done <"$L/issued"
ni=$(wc -l <"$L/issued")
[ "$missing" = 0 ] && [ "$differ" = 0 ] && ok "all $ni certificates handed out are in the store, DER identical" ||
    bad "of $ni handed out, $missing missing from the store and $differ with another DER"
lost=0
while read -r s; do
    [ -n "$s" ] || continue
    [ "$(sql "SELECT status FROM certificates WHERE serial = '$s'")" = 1 ] || lost=$((lost + 1))
done <"$L/revoked"
[ "$lost" = 0 ] && ok "all $(wc -l <"$L/revoked") acknowledged revocations are revoked in the store" || bad "$lost acknowledged revocations lost"
[ "$(sql "SELECT count(*) FROM certificates c WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.subject = c.serial AND a.action = 'cert.issue')")" = 0 ] &&
    ok "every certificate row has its audit entry" || bad "rows without audit entries"
[ -n "$(verify_count)" ] && ok "audit chain verifies ($(verify_count) entries)" || bad "audit: $(cat "$T/verify.err")"
c=$("$LIB_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["contract"]), *d["contract"][:3])' "$L/stats.json")
[ "${c%% *}" = 0 ] && ok "every error answer was problem+json, 5xx only 503 with Retry-After" || bad "answers outside the contract: $c"

# The supervisor's part (Restart=on-failure): a new pair issues again.
serve "$T/serve-restart.log" --user "$U" || bad "restart after the signer's death failed: $(tail -3 "$T/serve-restart.log")"
tok2=$("$ZTCA" token create --dir "$D" --user alice --ttl 10m 2>/dev/null) || true
code=$("${C[@]}" "${J[@]}" -H "Authorization: Bearer $tok2" "https://127.0.0.1:$HTTPS/v1/certs")
[ "$code" = 201 ] && ok "restarted: POST /v1/certs 201" || bad "restarted: $code $(cat "$T/body")"
stop

# ---- OCSP signer rotation through the signer process ----
before=$(openssl x509 -in "$D/ca/ocsp.pem" -noout -serial)
"$LIB_PY" - "$D/ztca.conf" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["ocsp"]["signer_renew_before"] = "8d"
json.dump(c, open(sys.argv[1], "w"))
PY
serve "$T/serve2.log" --user "$U" || { bad "second start failed"; cat "$T/serve2.log" >&2; }
after=$(openssl x509 -in "$D/ca/ocsp.pem" -noout -serial)
[ "$before" != "$after" ] && ok "OCSP signer rotated by the signer process" || bad "not rotated"
[ "$(stat -c '%a %u' "$D/private/ocsp.key")" = "600 0" ] && ok "new private/ocsp.key: 0600, owned by root" || bad "new key: $(stat -c '%a %u' "$D/private/ocsp.key")"
"${O[@]}" -cert "$T/agent.pem" >"$T/ocsp4.txt" 2>&1 || true
grep -q "Response verify OK" "$T/ocsp4.txt" && ok "answers by the rotated signer verify" || bad "rotated: $(cat "$T/ocsp4.txt")"
stop
"$LIB_PY" - "$D/ztca.conf" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["ocsp"]["signer_renew_before"] = "2d"
json.dump(c, open(sys.argv[1], "w"))
PY

# ---- --role ocsp: a new responder identity taken on SIGHUP ----
# An OCSP node does not rotate: it takes the identity the read-write nodes put into DIR (the
# signer process loads private/ocsp.key, OCSP_LOAD). SIGHUP makes it look at once instead of at
# the next minute's tick. Here a read-write node on other ports rotates at its start
# (signer_renew_before 8d) and writes the new key and certificate into the shared DIR.
responder() { # response.der -> SHA-256 fingerprint of the responder certificate it carries
    openssl ocsp -respin "$1" -resp_text -noverify 2>/dev/null | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' |
        openssl x509 -noout -fingerprint -sha256
}
serve "$T/ocsp-node.log" --user "$U" --role ocsp || { bad "--role ocsp node did not start"; cat "$T/ocsp-node.log" >&2; }
OCSP_NODE=$SERVER
old_fp=$(openssl x509 -in "$D/ca/ocsp.pem" -noout -fingerprint -sha256)
"${O[@]}" -cert "$T/agent.pem" -respout "$T/node-old.der" >"$T/node-old.txt" 2>&1 || true
[ "$(responder "$T/node-old.der")" = "$old_fp" ] && grep -q "Response verify OK" "$T/node-old.txt" &&
    ok "OCSP node answers with the current responder certificate" || bad "OCSP node before: $(cat "$T/node-old.txt")"
set_renew_before() {
    "$LIB_PY" - "$D/ztca.conf" "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["ocsp"]["signer_renew_before"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
PY
}
set_renew_before 8d
HTTP_RW=$(lib_free_port)
"$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$HTTP_RW" --listen-https none --user "$U" 2>>"$T/rw-node.log" &
RW=$!
PIDS+=("$RW")
lib_wait_http "http://127.0.0.1:$HTTP_RW/healthz" 20 || bad "read-write node did not start: $(tail -3 "$T/rw-node.log")"
lib_stop "$RW" "read-write ztca serve"
set_renew_before 2d
new_fp=$(openssl x509 -in "$D/ca/ocsp.pem" -noout -fingerprint -sha256)
[ "$new_fp" != "$old_fp" ] && ok "read-write node rotated the responder identity in DIR" || bad "not rotated"
n_followed=$(grep -c "event=ocsp_signer_followed" "$T/ocsp-node.log" || true)
kill -HUP "$OCSP_NODE"
for _ in $(seq $((100 * SLOW))); do
    [ "$(grep -c "event=ocsp_signer_followed" "$T/ocsp-node.log" || true)" -gt "$n_followed" ] && break
    sleep 0.1
done
grep -q "event=ocsp_signer_followed" "$T/ocsp-node.log" && ok "SIGHUP: OCSP node logged ocsp_signer_followed" || bad "no ocsp_signer_followed after SIGHUP"
"${O[@]}" -cert "$T/agent.pem" -respout "$T/node-new.der" >"$T/node-new.txt" 2>&1 || true
[ "$(responder "$T/node-new.der")" = "$new_fp" ] && grep -q "Response verify OK" "$T/node-new.txt" &&
    grep -q "$T/agent.pem: good" "$T/node-new.txt" && ok "after SIGHUP (nonce, signed now): the new responder certificate, Response verify OK, good" ||
    bad "after SIGHUP (nonce): $(responder "$T/node-new.der") $(cat "$T/node-new.txt")"
"${O[@]}" -cert "$T/agent.pem" -no_nonce -respout "$T/node-new2.der" >"$T/node-new2.txt" 2>&1 || true
[ "$(responder "$T/node-new2.der")" = "$new_fp" ] && grep -q "Response verify OK" "$T/node-new2.txt" &&
    ok "after SIGHUP (no nonce, cache): the new responder certificate, Response verify OK" ||
    bad "after SIGHUP (no nonce): $(responder "$T/node-new2.der") $(cat "$T/node-new2.txt")"
stop

# ---- refusals ----
refused() { # name expected-text args...
    local name=$1 want=$2
    shift 2
    if "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$HTTP" --listen-https none "$@" >"$T/refused.log" 2>&1; then
        bad "$name: started"
    elif grep -qF -- "$want" "$T/refused.log"; then
        ok "$name: refused ($(grep -F -m1 -- "$want" "$T/refused.log" | cut -c1-150))"
    else
        bad "$name: $(cat "$T/refused.log")"
    fi
}
chmod 640 "$D/private/ocsp.key"
refused "key file 0640" "run: chmod 600 $D/private/ocsp.key" --user "$U"
refused "key file 0640, without --user" "run: chmod 600 $D/private/ocsp.key"
chmod 600 "$D/private/ocsp.key"
chown "$U" "$D/private/intermediate.key"
refused "key file owned by the service user" "run: chown root $D/private/intermediate.key" --user "$U"
chown root "$D/private/intermediate.key"
chown -R root: "$D/store"
refused "store not owned by --user" "run: chown -R $U: $D/store" --user "$U"
chown -R "$U:" "$D/store"
refused "unknown user" "no such user" --user ztca-no-such-user-here
refused "root as --user" "unprivileged" --user root
serve "$T/serve3.log" --user "$U" && ok "starts again once fixed" || bad "did not start after the fixes: $(cat "$T/serve3.log")"
stop
lib_finish
