#!/usr/bin/env bash
# Rate limits (docs/hardening.md "Rate limits") on a running server with tight limits in
# ztca.conf: per identity (a bearer token on POST /v1/certs, a client certificate on
# /v1/renew/begin) the request after the burst gets 429 rate-limited with an integer Retry-After,
# another identity is not affected, an administrator is exempt, and after Retry-After seconds the
# identity passes again. After a SIGHUP with a per-address limit (loopback not exempt), a second
# source address (127.0.0.2) is throttled while 127.0.0.3 is not, and the default loopback
# exemption set back by another SIGHUP frees it. OCSP, CRL and /healthz are never limited, and
# OCSP (RFC 5019 profile) and CRL answers come from their caches: the same bytes a second later.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need openssl version
lib_need curl --version
# Source addresses other than 127.0.0.1 must be usable (Linux routes all of 127/8 to lo).
lib_need "$LIB_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2", 0))'

lib_harness

HTTP=$(lib_free_port)
HTTPS=$(lib_free_port)
D="$T/ca"
"$ZTCA" init --dir "$D" --trust-domain corp.example --public-url "http://127.0.0.1:$HTTP" \
    --api-url "https://127.0.0.1:$HTTPS" >/dev/null
grep -q '"rate_limits"' "$D/ztca.conf" && ok "ztca init writes the rate_limits defaults" || bad "no rate_limits in ztca.conf"

limits() { # JSON of "rate_limits", then SIGHUP when the server runs
    "$LIB_PY" - "$D/ztca.conf" "$1" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["rate_limits"] = json.loads(sys.argv[2])
json.dump(c, open(p, "w"), indent=2)
PY
    if [ -n "${SERVER:-}" ]; then
        local n
        n=$(grep -c event=reloaded "$T/serve.log" || true)
        kill -HUP "$SERVER"
        for _ in $(seq 1 50); do
            [ "$(grep -c event=reloaded "$T/serve.log" || true)" -gt "$n" ] && return 0
            sleep 0.1
        done
        bad "no reload after SIGHUP"
    fi
}
# Phase 1: 3 requests per identity at once, then one per 2 s; no address limit.
limits '{"per_identity": {"rate": 0.5, "burst": 3}, "per_address": {"rate": 0}}'
SERVER=
"$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$HTTP" --listen-https "127.0.0.1:$HTTPS" \
    2>"$T/serve.log" &
SERVER=$!
PIDS+=("$SERVER")
lib_wait_http "http://127.0.0.1:$HTTP/healthz" 20 || { bad "server did not start"; cat "$T/serve.log" >&2; exit 1; }
API="https://127.0.0.1:$HTTPS"
C=(curl -sS --cacert "$D/ca/root.pem")
ADMIN=("${C[@]}" --cert "$D/admin/cert.pem" --key "$D/admin/key.pem")

openssl ecparam -name prime256v1 -genkey -noout -out "$T/a.key"
openssl req -new -key "$T/a.key" -subj /CN=ignored -out "$T/a.csr"
"$LIB_PY" -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read()}))' "$T/a.csr" >"$T/csr.json"
token() { "$ZTCA" token create --dir "$D" --user "$1" --json | "$LIB_PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
issue() { # bearer [curl args] -> status; body in $T/r.json, headers in $T/r.h
    local b=$1
    shift
    "${C[@]}" "$@" -o "$T/r.json" -D "$T/r.h" -w '%{http_code}' -H "Authorization: Bearer $b" \
        -H 'Content-Type: application/json' --data @"$T/csr.json" "$API/v1/certs"
}
retry_after() { sed -n 's/^[Rr]etry-[Aa]fter: *\([^[:space:]]*\).*/\1/p' "$T/r.h"; }
is_429() { # what: the last answer is 429 rate-limited with an integer Retry-After
    local ra
    ra=$(retry_after)
    "$LIB_PY" - "$T/r.json" <<'PY' && [[ "$ra" =~ ^[1-9][0-9]*$ ]]
import json, sys
p = json.load(open(sys.argv[1]))
assert p["type"] == "urn:ztca:problem:rate-limited" and p["status"] == 429, p
PY
}

# -- per identity: a bearer token ----------------------------------------------------------------
FAKE_A=ztca_tok_$(printf '0%.0s' {1..64})
FAKE_B=ztca_tok_$(printf '1%.0s' {1..64})
codes=""
for _ in 1 2 3; do codes="$codes $(issue "$FAKE_A")"; done
[ "$codes" = " 401 401 401" ] && ok "token A: the burst of 3 is served (401 token-invalid)" || bad "token A burst: $codes"
code=$(issue "$FAKE_A")
[ "$code" = 429 ] && is_429 && ok "token A: the 4th request is 429 rate-limited, Retry-After $(retry_after)" ||
    bad "token A 4th: $code $(cat "$T/r.json") $(cat "$T/r.h")"
grep -qi '^content-type: application/problem+json' "$T/r.h" && ok "429 is application/problem+json" || bad "429 content type"
RA=$(retry_after)
[ "$RA" = 2 ] && ok "Retry-After is the wait for one token (2 s at 0.5/s)" || bad "Retry-After $RA"
code=$(issue "$FAKE_B")
[ "$code" = 401 ] && ok "token B is not affected by A's limit" || bad "token B: $code"
code=$(issue "$(token bob)")
[ "$code" = 201 ] && ok "a real token issues meanwhile (201)" || bad "real token: $code $(cat "$T/r.json")"
cp "$T/r.json" "$T/alice.json"
"$LIB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificate"], end="")' "$T/alice.json" >"$T/a.pem"

# -- administrators are exempt -------------------------------------------------------------------
codes=""
for _ in $(seq 1 8); do
    codes="$codes $("${ADMIN[@]}" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data '{"user":"carol"}' "$API/v1/tokens")"
done
[ "$codes" = " 201 201 201 201 201 201 201 201" ] && ok "admin: 8 tokens in a row, never limited" || bad "admin tokens: $codes"

# -- per identity: a client certificate (renewal) ------------------------------------------------
renew_begin() {
    "${C[@]}" --cert "$T/a.pem" --key "$T/a.key" -o "$T/r.json" -D "$T/r.h" -w '%{http_code}' \
        -H 'Content-Type: application/json' --data '{}' "$API/v1/renew/begin"
}
codes=""
for _ in 1 2 3; do codes="$codes $(renew_begin)"; done
code=$(renew_begin)
case "$codes" in *429*) bad "renewal limited inside the burst: $codes" ;; *) ok "certificate: the burst of 3 is served ($codes)" ;; esac
[ "$code" = 429 ] && is_429 && grep -q "for this certificate" "$T/r.json" && ok "certificate: the 4th renewal request is 429" || bad "renew 4th: $code $(cat "$T/r.json")"

# -- OCSP, CRL and healthz: never limited, answered from caches ---------------------------------
"${C[@]}" -o "$T/crl1.der" "http://127.0.0.1:$HTTP/crl"
openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/a.pem" -no_nonce -reqout "$T/req.der" >/dev/null 2>&1 || true
ocsp_post() { "${C[@]}" -o "$1" -w '%{http_code}' -H 'Content-Type: application/ocsp-request' --data-binary @"$T/req.der" "http://127.0.0.1:$HTTP/ocsp"; }
ocsp_post "$T/ocsp1.der" >/dev/null
codes=""
for _ in $(seq 1 10); do
    codes="$codes$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/crl")"
    codes="$codes$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/healthz")"
    codes="$codes$(ocsp_post /dev/null)"
done
[ "$codes" = "$(printf '200%.0s' {1..30})" ] && ok "30 OCSP, CRL and healthz requests, all 200" || bad "public routes: $codes"

sleep "$RA"
code=$(issue "$FAKE_A")
[ "$code" = 401 ] && ok "token A passes again after Retry-After ($RA s)" || bad "token A after the wait: $code $(cat "$T/r.json")"
# Both caches filled now, well after the issuance above reached the change feed (which
# invalidates them).
"${C[@]}" -o "$T/crl2.der" "http://127.0.0.1:$HTTP/crl"
ocsp_post "$T/ocsp2.der" >/dev/null

# The certificate's bucket refills too; the wait also lets the caches show they hold: the same
# bytes (same producedAt, same CRL number) a few seconds later. SIGHUP below drops the OCSP
# cache (a new trust policy may change the score extension), so this comes first.
sleep "$RA"
code=$(renew_begin)
[ "$code" = 400 ] && ok "certificate passes again after Retry-After ($RA s)" || bad "renew after the wait: $code $(cat "$T/r.json")"
"${C[@]}" -o "$T/crl3.der" "http://127.0.0.1:$HTTP/crl"
ocsp_post "$T/ocsp3.der" >/dev/null
openssl ocsp -respin "$T/ocsp3.der" -issuer "$D/ca/intermediate.pem" -CAfile "$D/ca/root.pem" -cert "$T/a.pem" >"$T/o.txt" 2>&1 &&
    grep -q "a.pem: good" "$T/o.txt" && cmp -s "$T/ocsp2.der" "$T/ocsp3.der" &&
    ok "OCSP without a nonce: a verified answer, the same bytes $RA s later (pre-signed cache)" || bad "OCSP cache: $(cat "$T/o.txt")"
openssl crl -inform DER -in "$T/crl3.der" -CAfile "$D/ca/chain.pem" -noout >"$T/crl.txt" 2>&1 && cmp -s "$T/crl2.der" "$T/crl3.der" &&
    ok "CRL: verified, the same bytes $RA s later (built once)" || bad "CRL cache: $(cat "$T/crl.txt"; cmp "$T/crl2.der" "$T/crl3.der")"

# -- per address ---------------------------------------------------------------------------------
limits '{"per_identity": {"rate": 0}, "per_address": {"rate": 0.5, "burst": 4, "exempt_loopback": false}}'
ok "SIGHUP: reloaded with a per-address limit"
codes=""
for i in 1 2 3 4; do codes="$codes $(issue "ztca_tok_$(printf "$i%.0s" {1..64})" --interface 127.0.0.2)"; done
[ "$codes" = " 401 401 401 401" ] && ok "127.0.0.2: 4 requests with 4 tokens served" || bad "address burst: $codes"
code=$(issue "$FAKE_B" --interface 127.0.0.2)
[ "$code" = 429 ] && is_429 && grep -q "from this address" "$T/r.json" && ok "127.0.0.2: the 5th is 429 whatever the token" || bad "address 5th: $code $(cat "$T/r.json")"
RA=$(retry_after)
code=$(issue "$FAKE_B" --interface 127.0.0.3)
[ "$code" = 401 ] && ok "127.0.0.3 is not affected" || bad "other address: $code"
code=$("${ADMIN[@]}" --interface 127.0.0.2 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data '{"user":"carol"}' "$API/v1/tokens")
[ "$code" = 201 ] && ok "admin from the throttled address: 201" || bad "admin from 127.0.0.2: $code"
code=$("${C[@]}" --interface 127.0.0.2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/crl")
[ "$code" = 200 ] && ok "CRL from the throttled address: 200" || bad "CRL from 127.0.0.2: $code"
sleep "$RA"
code=$(issue "$FAKE_B" --interface 127.0.0.2)
[ "$code" = 401 ] && ok "127.0.0.2 passes again after Retry-After ($RA s)" || bad "address after the wait: $code"
for _ in 1 2 3; do issue "$FAKE_B" --interface 127.0.0.2 >/dev/null; done
[ "$(issue "$FAKE_B" --interface 127.0.0.2)" = 429 ] || bad "127.0.0.2 not throttled again"
limits '{"per_identity": {"rate": 0}, "per_address": {"rate": 0.5, "burst": 4}}'
code=$(issue "$FAKE_B" --interface 127.0.0.2)
[ "$code" = 401 ] && ok "SIGHUP back to the default loopback exemption: 127.0.0.2 passes at once" || bad "exempt loopback: $code"

"${C[@]}" "http://127.0.0.1:$HTTP/metrics" >"$T/metrics.txt"
grep -q 'ztca_http_requests_total{method="POST",route="/v1/certs",status="429"} [1-9]' "$T/metrics.txt" &&
    ok "metrics count the 429 answers" || bad "metrics: $(grep 429 "$T/metrics.txt")"
if grep -q "ztca_tok_" "$T/serve.log"; then bad "a token reached the log"; else ok "no token in the log"; fi
lib_finish
