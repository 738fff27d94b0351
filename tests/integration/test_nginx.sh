#!/usr/bin/env bash
# Enforcement points (docs/authz.md), with Debian's nginx on loopback:
# 1. mutual TLS with ztca's chain and `ssl_ocsp leaf` (no OCSP cache): a good certificate passes, a
#    revocation through the CLI refuses the next handshake, a trust hold refuses it, its release
#    accepts it again, a certificate of another CA is refused;
# 2. auth_request to ztca's /v1/authz: locations requiring scores 0 and 80; an agent at 70 gets
#    200 and 403, and 200 on both once its score rises, without reloading nginx; the identity
#    reaches the application as headers. The configuration is examples/nginx/ as shipped;
# 3. the authz endpoint itself: missing or malformed certificate header 400, unknown CA 403,
#    Envoy's x-forwarded-client-cert form, the Unix socket listener, the pep certificate on
#    HTTPS, never a 5xx.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need openssl version
lib_need curl --version
lib_need nginx -v
lib_need "$LIB_PY" -c 'import json'
lib_harness

HTTP=$(lib_free_port)
HTTPS=$(lib_free_port)
AZ=$(lib_free_port)
NG=$(lib_free_port)
D="$T/ca"
"$ZTCA" init --dir "$D" --trust-domain corp.example --public-url "http://127.0.0.1:$HTTP" \
    --api-url "https://127.0.0.1:$HTTPS" >/dev/null
"$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$HTTP" --listen-https "127.0.0.1:$HTTPS" \
    --listen-authz "127.0.0.1:$AZ" 2>"$T/serve.log" &
PIDS+=($!)
lib_wait_http "http://127.0.0.1:$HTTP/healthz" 20 || { bad "server did not start"; cat "$T/serve.log" >&2; exit 1; }
lib_wait_http "http://127.0.0.1:$AZ/healthz" 20 || { bad "authz listener did not start"; exit 1; }
Z=("$ZTCA")
ZD=(--dir "$D")
API="https://127.0.0.1:$HTTPS"
ADMIN=(--cacert "$D/ca/root.pem" --cert "$D/admin/cert.pem" --key "$D/admin/key.pem")

agent() { # name user -> $T/name.pem, key, device id in $T/name.dev
    local name=$1 user=$2 tok csr_json
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/$name.key"
    openssl req -new -key "$T/$name.key" -subj /CN=x -out "$T/$name.csr"
    csr_json=$("$LIB_PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/$name.csr")
    tok=$("${Z[@]}" token create "${ZD[@]}" --user "$user" --json | "$LIB_PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    curl -fsS --cacert "$D/ca/root.pem" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        --data "{\"csr\":$csr_json}" "$API/v1/certs" >"$T/$name.json"
    "$LIB_PY" - "$T/$name.json" "$T/$name.pem" "$T/$name.dev" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write(r["certificate"])
open(sys.argv[3], "w").write(r["device_id"])
PY
}
agent alice alice
agent bob bob
DEV=$(cat "$T/alice.dev")

# nginx: examples/nginx/ztca-enforce.conf as shipped, with this test's paths and ports.
lib_nginx_enforce "$D" "$NG" "127.0.0.1:$AZ" || { bad "nginx: $(cat "$T/nginx-t.log") $(tail -3 "$T/nginx/error.log")"; exit 1; }

NGX="https://127.0.0.1:$NG"
req() { # name path -> HTTP status (000: the handshake failed); headers in $T/h.txt
    curl -sS -o "$T/body.txt" -D "$T/h.txt" -w '%{http_code}' --cacert "$D/ca/root.pem" \
        --cert "$T/$1.pem" --key "$T/$1.key" "$NGX$2" 2>"$T/curl.err" || true
}
[ "$(req alice /)" = 200 ] && ok "nginx: a good client certificate passes mTLS + OCSP" || bad "good cert: $(cat "$T/curl.err") $(tail -3 "$T/nginx/error.log")"

# A revocation through the CLI: the next handshake is refused.
serial=$(openssl x509 -in "$T/bob.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
[ "$(req bob /)" = 200 ] && ok "bob passes before the revocation" || bad "bob before"
"${Z[@]}" cert revoke "${ZD[@]}" "$serial" --reason keyCompromise >/dev/null
code=$(req bob /)
[ "$code" = 400 ] && grep -q "certificate revoked" "$T/nginx/error.log" &&
    ok "revoked through the CLI: nginx refuses the next request (400, OCSP says revoked)" || bad "after revoke: $code"

# A trust hold refuses, its release accepts again.
code=$(curl -sS -o /dev/null -w '%{http_code}' "${ADMIN[@]}" -H 'Content-Type: application/json' \
    --data '{"source":"edr","kind":"malware","impact":-80}' "$API/v1/devices/$DEV/signals")
[ "$code" = 201 ] && [ "$(req alice /)" = 400 ] && ok "trust hold: the next request is refused" || bad "hold: $code"
"${Z[@]}" signal "${ZD[@]}" --device "$DEV" --source edr --kind malware --impact 0 >/dev/null
[ "$(req alice /)" = 200 ] && ok "signal cleared: accepted again" || bad "after release: $(tail -2 "$T/nginx/error.log")"

# Another CA's certificate.
"$ZTCA" init --dir "$T/other" --trust-domain corp.example >/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/mallory.key"
openssl req -new -key "$T/mallory.key" -subj /CN=x -out "$T/mallory.csr"
"$ZTCA" issue --dir "$T/other" --csr "$T/mallory.csr" --profile agent --user alice --device-id "$DEV" --out "$T/mallory.pem" 2>/dev/null
[ "$(req mallory /)" = 400 ] && ok "a certificate of another CA is refused" || bad "other CA accepted"

# Variable trust: alice at 70 (software key 85, then -15).
"${Z[@]}" signal "${ZD[@]}" --device "$DEV" --user alice --source mdm --kind patch-level --impact -15 >/dev/null
code=$(req alice /orders)
[ "$code" = 200 ] && grep -q "^path=/orders device=$DEV user=alice score=70$" "$T/body.txt" &&
    ok "score 70: / (min 0) allowed; the application got device, user and score" || bad "/: $code $(cat "$T/body.txt")"
[ "$(req alice /admin/x)" = 403 ] && ok "score 70: /admin/ (min 80) refused" || bad "/admin/ at 70"
"${Z[@]}" signal "${ZD[@]}" --device "$DEV" --user alice --source mdm --kind patch-level --impact 0 >/dev/null
code=$(req alice /admin/x)
[ "$code" = 200 ] && grep -q "score=85$" "$T/body.txt" && ok "score 85: /admin/ allowed, nginx not reloaded" || bad "/admin/ at 85: $code"

# The authz endpoint itself.
AZU="http://127.0.0.1:$AZ/v1/authz"
esc() { "$LIB_PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' "$1"; }
ALICE=$(esc "$T/alice.pem")
authz() { # curl args -> status; body in $T/az.json, headers in $T/azh.txt
    curl -sS -o "$T/az.json" -D "$T/azh.txt" -w '%{http_code}' "$@"
}
[ "$(authz "$AZU" -H "X-Client-Cert: $ALICE")" = 200 ] && grep -q '"score":85' "$T/az.json" &&
    ok "authz: 200 with the identity and score" || bad "authz direct: $(cat "$T/az.json")"
code=$(authz "$AZU")
[ "$code" = 400 ] && grep -q authz-no-certificate "$T/az.json" && ok "authz: no certificate header: 400" || bad "no header: $code"
for v in '%ZZ' 'not-a-pem' '-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----%0A' "${ALICE:0:200}"; do
    code=$(authz "$AZU" -H "X-Client-Cert: $v")
    [ "$code" = 400 ] || bad "malformed header $v: $code"
done
ok "authz: malformed certificate headers: 400"
[ "$(authz "$AZU" -H "X-Client-Cert: $ALICE" -H 'X-Ztca-Min-Score: 101')" = 400 ] && ok "authz: bad min score: 400" || bad "bad score header"
code=$(authz "$AZU" -H "X-Client-Cert: $(esc "$T/mallory.pem")")
[ "$code" = 403 ] && grep -q authz-untrusted "$T/az.json" && ok "authz: unknown CA: 403" || bad "authz other CA: $code"
code=$(authz "$AZU" -H "X-Client-Cert: $(esc "$T/bob.pem")")
[ "$code" = 403 ] && grep -q authz-revoked "$T/az.json" && ok "authz: revoked: 403 authz-revoked" || bad "authz revoked: $code"
XF="By=spiffe://corp.example/pep/envoy;Hash=abc;Cert=\"$ALICE\";Subject=\"CN=x\";URI=spiffe://corp.example/agent/$DEV/alice"
code=$(authz -X POST "$AZU/api/orders?id=1" -H "x-forwarded-client-cert: $XF" -H 'X-Ztca-Min-Score: 80')
[ "$code" = 200 ] && grep -qi "^X-Ztca-User: alice" "$T/azh.txt" && ok "authz: Envoy's XFCC, any method, path under the prefix" || bad "xfcc: $code $(cat "$T/az.json")"
code=$(authz "$AZU" -H "x-forwarded-client-cert: Hash=abc" )
[ "$code" = 400 ] && ok "authz: XFCC without Cert: 400" || bad "xfcc no cert: $code"
code=$(authz "$AZU" -H "X-Client-Cert: $ALICE" -H "x-forwarded-client-cert: $XF")
[ "$code" = 400 ] && ok "authz: both headers at once: 400" || bad "both headers: $code"
[ "$(authz "http://127.0.0.1:$AZ/v1/devices")" = 404 ] && ok "authz listener serves nothing else" || bad "authz listener leaks routes"
[ "$(authz "http://127.0.0.1:$HTTP/v1/authz" -H "X-Client-Cert: $ALICE")" = 403 ] && ok "public HTTP listener: authz refused (https-required)" || bad "authz on public http"
code=$(authz "$API/v1/authz" "${ADMIN[@]}" -H "X-Client-Cert: $ALICE")
[ "$code" = 403 ] && ok "HTTPS: an admin certificate may not ask authz" || bad "admin on authz: $code"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/pep.key"
openssl req -new -key "$T/pep.key" -subj /CN=x -out "$T/pep.csr"
"${Z[@]}" issue "${ZD[@]}" --csr "$T/pep.csr" --profile pep --user nginx-1 --out "$T/pep.pem" 2>/dev/null
code=$(authz "$API/v1/authz" --cacert "$D/ca/root.pem" --cert "$T/pep.pem" --key "$T/pep.key" -H "X-Client-Cert: $ALICE")
[ "$code" = 200 ] && ok "HTTPS: a pep certificate asks authz" || bad "pep on authz: $code $(cat "$T/az.json")"
code=$(authz "$API/v1/devices" --cacert "$D/ca/root.pem" --cert "$T/pep.pem" --key "$T/pep.key")
[ "$code" = 403 ] && ok "a pep certificate may do nothing else" || bad "pep on devices: $code"
grep -q '"status":5' "$T/serve.log" && bad "a 5xx was answered" || ok "no 5xx in the server log"

# The Unix socket listener (a second node on the same store).
"$ZTCA" serve --dir "$D" --listen-http none --listen-https none --listen-authz "unix:$T/authz.sock" 2>"$T/serve2.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$T/authz.sock" ] && break || sleep 0.1; done
[ "$(stat -c %a "$T/authz.sock")" = 660 ] && ok "unix socket created with mode 0660" || bad "socket mode $(stat -c %a "$T/authz.sock" 2>&1)"
code=$(authz --unix-socket "$T/authz.sock" "http://localhost/v1/authz" -H "X-Client-Cert: $ALICE")
[ "$code" = 200 ] && ok "authz over the Unix socket" || bad "unix socket: $code"
if "$ZTCA" serve --dir "$D" --listen-http none --listen-https none --listen-authz "0.0.0.0:$(lib_free_port)" 2>"$T/serve3.log"; then
    bad "authz on 0.0.0.0 accepted"
else
    grep -q "loopback" "$T/serve3.log" && ok "authz on a non-loopback address is refused at start" || bad "refusal message: $(cat "$T/serve3.log")"
fi
lib_finish
