#!/usr/bin/env bash
# The OCSP responder and the CRL of `ztca serve`, judged by the openssl CLI (client and verifier),
# curl (GET and HTTP caching) and Debian's python3-cryptography (a second parser and signature
# check). Also: revocations visible in the very next answer, on this node and on a second node
# sharing the store (change feed), and the automatic rotation of the OCSP signer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need openssl version
lib_need curl --version
lib_need "$LIB_PY" -c 'from cryptography.x509 import ocsp'

lib_harness

serve() { # dir http-port https-port -> pid in SERVER
    "$ZTCA" serve --dir "$1" --listen-http "127.0.0.1:$2" --listen-https "127.0.0.1:$3" \
        2>>"$T/serve-$2.log" &
    SERVER=$!
    PIDS+=("$SERVER")
    lib_wait_http "http://127.0.0.1:$2/healthz" 20 || { bad "server on $2 did not start"; cat "$T/serve-$2.log" >&2; exit 1; }
}

HTTP=$(lib_free_port)
HTTPS=$(lib_free_port)
D="$T/ca"
"$ZTCA" init --dir "$D" --trust-domain corp.example --public-url "http://127.0.0.1:$HTTP" \
    --api-url "https://127.0.0.1:$HTTPS" >/dev/null
serve "$D" "$HTTP" "$HTTPS"
URL="http://127.0.0.1:$HTTP/ocsp"
Z=("$ZTCA")
ZD=(--dir "$D")

issue() { # name profile args...
    local name=$1
    shift
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/$name.key"
    openssl req -new -key "$T/$name.key" -subj /CN=x -out "$T/$name.csr"
    "$ZTCA" issue --dir "$D" --csr "$T/$name.csr" --out "$T/$name.pem" "$@" 2>"$T/$name.issue"
    sed -n 's/.*serial=\([0-9a-f]*\).*/\1/p' "$T/$name.issue"
}
S_GOOD=$(issue good --profile device)
for r in keyCompromise cACompromise affiliationChanged superseded cessationOfOperation privilegeWithdrawn aACompromise unspecified certificateHold; do
    eval "S_$r=\$(issue $r --profile agent --user alice)"
done

O=(openssl ocsp -issuer "$D/ca/intermediate.pem" -url "$URL" -CAfile "$D/ca/root.pem")
status_of() { # cert [openssl args...] -> the status line of that certificate
    local cert=$1
    shift
    "${O[@]}" -cert "$cert" "$@" >"$T/status.txt" 2>&1 || true
    [ -n "${ZTCA_DEBUG_OCSP:-}" ] && cat "$T/status.txt" >&2
    sed -n "s|^$cert: ||p" "$T/status.txt"
}

# good, with and without a nonce, SHA-1 and SHA-256 CertIDs
[ "$(status_of "$T/good.pem")" = good ] && ok "good (nonce)" || bad "good (nonce): $(status_of "$T/good.pem")"
[ "$(status_of "$T/good.pem" -no_nonce)" = good ] && ok "good (no nonce)" || bad "good (no nonce)"
[ "$("${O[@]}" -sha256 -cert "$T/good.pem" 2>&1 | sed -n "s|^$T/good.pem: ||p")" = good ] && ok "good (SHA-256 CertID)" || bad "good (SHA-256)"
"${O[@]}" -cert "$T/good.pem" -resp_text >"$T/text" 2>&1
grep -q "Response verify OK" "$T/text" && ok "response verifies against the root" || bad "verify: $(head -3 "$T/text")"
grep -q "OCSP Nonce" "$T/text" && ok "nonce echoed" || bad "nonce not echoed"
grep -q "Responder Id: [0-9A-F]\{40\}" "$T/text" && ok "responder id by key hash" || bad "responder id"
grep -q "OCSP Signing" "$T/text" && ok "delegated signer certificate included" || bad "signer cert"
grep -q "Next Update:" "$T/text" && ok "nextUpdate present" || bad "nextUpdate"

reason_code() {
    case $1 in
    unspecified) echo 0 ;; keyCompromise) echo 1 ;; cACompromise) echo 2 ;;
    affiliationChanged) echo 3 ;; superseded) echo 4 ;; cessationOfOperation) echo 5 ;;
    certificateHold) echo 6 ;; privilegeWithdrawn) echo 9 ;; aACompromise) echo 10 ;;
    esac
}
# each reason, then the very next answer (nonce and no nonce) says revoked with that reason
for r in keyCompromise cACompromise affiliationChanged superseded cessationOfOperation privilegeWithdrawn aACompromise unspecified certificateHold; do
    eval "s=\$S_$r"
    status_of "$T/$r.pem" -no_nonce >/dev/null # warm the cache with "good"
    "${Z[@]}" cert revoke "${ZD[@]}" "$s" --reason "$r" >/dev/null
    "${O[@]}" -cert "$T/$r.pem" -no_nonce -resp_text >"$T/r.txt" 2>&1
    grep -q "^$T/$r.pem: revoked" "$T/r.txt" && ok "$r: revoked in the next no-nonce answer" || bad "$r: $(grep "$r.pem" "$T/r.txt")"
    # openssl 3.0 names reasons up to 8 and prints the rest as "(UNKNOWN)": check the code
    code=$(printf '0x%x' "$(reason_code "$r")")
    if [ "$r" = unspecified ]; then
        ! grep -q "Reason:" "$T/r.txt" && ok "unspecified: no reason sent (RFC 5280 5.3.1)" || bad "unspecified sent a reason"
    else
        grep -q "Revocation Reason: .*($code)" "$T/r.txt" && ok "$r: reason $code" || bad "$r: $(grep Reason "$T/r.txt")"
    fi
    grep -q "Revocation Time:" "$T/r.txt" && ok "$r: revocation time" || bad "$r: no revocation time"
    [ "$(status_of "$T/$r.pem")" = revoked ] && ok "$r: revoked with a nonce too" || bad "$r nonce"
done

# Nonce answers take a status the cache holds instead of reading the store again: the second
# answer's thisUpdate is the first's (when the status was read) while producedAt moves on; both
# verify and echo their nonces. A revocation is in the very next nonce answer all the same.
S_SC=$(issue sc --profile device)
times_of() { # -resp_text file -> "thisUpdate|producedAt"
    echo "$(sed -n 's/^ *This Update: //p' "$1" | head -1)|$(sed -n 's/^ *Produced At: //p' "$1" | head -1)"
}
"${O[@]}" -cert "$T/sc.pem" -resp_text >"$T/sc1.txt" 2>&1
sleep 1.2
"${O[@]}" -cert "$T/sc.pem" -resp_text >"$T/sc2.txt" 2>&1
t1=$(times_of "$T/sc1.txt")
t2=$(times_of "$T/sc2.txt")
if grep -q "sc.pem: good" "$T/sc2.txt" && grep -q "Response verify OK" "$T/sc2.txt" &&
    [ "$(grep -c "OCSP Nonce" "$T/sc2.txt")" -ge 1 ] && [ "${t1%|*}" = "${t2%|*}" ] &&
    [ "${t2#*|}" != "${t1#*|}" ] && [ -n "${t1%|*}" ]; then
    ok "second nonce answer: status from the cache (thisUpdate ${t2%|*}, producedAt ${t2#*|})"
else
    bad "second nonce answer: '$t1' then '$t2': $(head -3 "$T/sc2.txt")"
fi
[ "$("$LIB_PY" - "$T/sc2.txt" <<'PY'
import sys
# openssl prints "Nov 26 18:00:00 2026 GMT"; thisUpdate must not be after producedAt
from datetime import datetime
t = {}
for line in open(sys.argv[1]):
    for k in ("This Update", "Produced At"):
        if line.strip().startswith(k + ":"):
            t.setdefault(k, datetime.strptime(line.split(":", 1)[1].strip(), "%b %d %H:%M:%S %Y GMT"))
print("ok" if t["This Update"] < t["Produced At"] else "bad")
PY
)" = ok ] && ok "thisUpdate before producedAt in the answer from a cached status" || bad "times: $t2"
"${Z[@]}" cert revoke "${ZD[@]}" "$S_SC" --reason keyCompromise >/dev/null
[ "$(status_of "$T/sc.pem")" = revoked ] && ok "nonce answer right after a revocation: revoked" || bad "nonce after revoke: $(cat "$T/status.txt")"

# unknown: a serial this CA never issued; several certificates in one request
"${O[@]}" -serial 0x1234567890 -no_nonce >"$T/u.txt" 2>&1
grep -q "0x1234567890: unknown" "$T/u.txt" && ok "unknown serial" || bad "unknown: $(cat "$T/u.txt")"
"${O[@]}" -cert "$T/good.pem" -cert "$T/keyCompromise.pem" -serial 0x42 >"$T/m.txt" 2>&1
grep -q "good.pem: good" "$T/m.txt" && grep -q "keyCompromise.pem: revoked" "$T/m.txt" && grep -q "0x42: unknown" "$T/m.txt" &&
    ok "three CertIDs in one request" || bad "multi: $(cat "$T/m.txt")"

# a foreign issuer: unauthorized; an untrusted signer: verification fails
"$ZTCA" init --dir "$T/other" --trust-domain other.example >/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/f.key"
openssl req -new -key "$T/f.key" -subj /CN=x -out "$T/f.csr"
"$ZTCA" issue --dir "$T/other" --csr "$T/f.csr" --profile device --out "$T/f.pem" 2>/dev/null
openssl ocsp -issuer "$T/other/ca/intermediate.pem" -cert "$T/f.pem" -url "$URL" -CAfile "$T/other/ca/root.pem" >"$T/f.txt" 2>&1 || true
grep -qi "unauthorized" "$T/f.txt" && ok "foreign issuer: unauthorized" || bad "foreign: $(cat "$T/f.txt")"
openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/good.pem" -url "$URL" -CAfile "$T/other/ca/root.pem" >"$T/v.txt" 2>&1 || true
grep -q "Response Verify Failure" "$T/v.txt" && ok "verification fails with another trust anchor" || bad "untrusted signer accepted: $(head -3 "$T/v.txt")"

# GET (RFC 5019): base64 in the path, escaped or not, with "//", caching headers, 304
openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/good.pem" -no_nonce -reqout "$T/req.der" >/dev/null 2>&1
b64=$(base64 -w0 "$T/req.der")
esc=$("$LIB_PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$b64")
for variant in "$b64" "$esc" "${b64%%=*}"; do
    code=$(curl -s -o "$T/get.der" -D "$T/h.txt" -w '%{http_code}' "http://127.0.0.1:$HTTP/ocsp/$variant")
    openssl ocsp -respin "$T/get.der" -issuer "$D/ca/intermediate.pem" -cert "$T/good.pem" -CAfile "$D/ca/root.pem" >"$T/g.txt" 2>&1
    [ "$code" = 200 ] && grep -q "good.pem: good" "$T/g.txt" && ok "GET ${variant:0:12}...: good" || bad "GET $code: $(cat "$T/g.txt")"
done
tr -d '\r' <"$T/h.txt" >"$T/hh.txt"
grep -qi '^content-type: application/ocsp-response' "$T/hh.txt" && ok "Content-Type" || bad "content type"
grep -qi '^cache-control: max-age=[0-9]*, public, no-transform, must-revalidate' "$T/hh.txt" && ok "Cache-Control (RFC 5019 6.2)" || bad "cache-control: $(grep -i cache "$T/hh.txt")"
for h in last-modified expires etag; do grep -qi "^$h: " "$T/hh.txt" && ok "$h" || bad "no $h"; done
etag=$(sed -n 's/^[Ee][Tt]ag: //p' "$T/hh.txt")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "http://127.0.0.1:$HTTP/ocsp/$b64")
[ "$code" = 304 ] && ok "If-None-Match: 304" || bad "If-None-Match: $code"
# The three GETs above asked for one CertID without a nonce: at most the first needed the store.
curl -s "http://127.0.0.1:$HTTP/metrics" >"$T/metrics.txt"
hits=$(sed -n 's/^ztca_ocsp_cache_hits_total \([0-9]*\)$/\1/p' "$T/metrics.txt")
entries=$(sed -n 's/^ztca_ocsp_cache_entries \([0-9]*\)$/\1/p' "$T/metrics.txt")
[ -n "$hits" ] && [ "$hits" -ge 2 ] && [ -n "$entries" ] && [ "$entries" -ge 1 ] &&
    ok "metrics: OCSP cache hits $hits, entries $entries" || bad "OCSP cache metrics: hits=$hits entries=$entries"
# a request whose base64 has a "/" right after the prefix, or "//" inside, still reaches us
slashy=$(printf 'ocsp//%s' "$b64")
code=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "http://127.0.0.1:$HTTP/$slashy")
[ "$code" = 200 ] && ok "GET with // in the path answers (malformedRequest inside, HTTP 200)" || bad "GET //: $code"

# malformed requests: an OCSP error status, HTTP 200, never a 5xx
for body in "garbage" "" "$(head -c 40000 /dev/zero | tr '\0' 'A')"; do
    code=$(printf '%s' "$body" | curl -s -o "$T/mal.der" -w '%{http_code}' -H 'Content-Type: application/ocsp-request' --data-binary @- "$URL")
    st=$("$LIB_PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); print(d.hex())' "$T/mal.der")
    if [ "${#body}" -gt 16384 ]; then
        [ "$code" = 413 ] && ok "oversized request: 413" || bad "oversized: $code"
    else
        [ "$code" = 200 ] && [ "$st" = 30030a0101 ] && ok "malformed request: malformedRequest" || bad "malformed: $code $st"
    fi
done

# python3-cryptography: a second parser; signature checked with the signer's key; statuses.
for c in good keyCompromise certificateHold; do
    openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/$c.pem" -no_nonce -reqout "$T/q.der" >/dev/null 2>&1
    curl -s -o "$T/resp-$c.der" -H 'Content-Type: application/ocsp-request' --data-binary "@$T/q.der" "$URL"
done
"$LIB_PY" - "$T" <<'PY' && ok "python3-cryptography: parsed, signatures and statuses" || bad "python3-cryptography check"
import sys
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.hazmat.primitives.asymmetric import ec
t = sys.argv[1]
want = {"good": ocsp.OCSPCertStatus.GOOD, "keyCompromise": ocsp.OCSPCertStatus.REVOKED,
        "certificateHold": ocsp.OCSPCertStatus.REVOKED}
for name, status in want.items():
    r = ocsp.load_der_ocsp_response(open("%s/resp-%s.der" % (t, name), "rb").read())
    assert r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    signer = r.certificates[0]
    signer.public_key().verify(r.signature, r.tbs_response_bytes,
                               ec.ECDSA(r.signature_hash_algorithm))
    assert r.certificate_status == status, (name, r.certificate_status)
    assert r.next_update > r.this_update
    if name == "keyCompromise":
        assert r.revocation_reason == x509.ReasonFlags.key_compromise
    if name == "certificateHold":
        assert r.revocation_reason == x509.ReasonFlags.certificate_hold
PY

# CRL: verified by openssl, used by openssl verify -crl_check, parsed by python
code=$(curl -s -o "$T/crl.der" -D "$T/ch.txt" -w '%{http_code}' "http://127.0.0.1:$HTTP/crl")
[ "$code" = 200 ] && grep -qi 'content-type: application/pkix-crl' "$T/ch.txt" && ok "GET /crl" || bad "GET /crl: $code"
openssl crl -inform DER -in "$T/crl.der" -CAfile "$D/ca/chain.pem" -noout 2>&1 | grep -q "verify OK" && ok "CRL signature verifies" || bad "CRL verify"
openssl crl -inform DER -in "$T/crl.der" -out "$T/crl.pem"
V=(openssl verify -crl_check -CRLfile "$T/crl.pem" -CAfile "$D/ca/root.pem" -untrusted "$D/ca/intermediate.pem")
"${V[@]}" "$T/good.pem" >/dev/null 2>&1 && ok "crl_check: good leaf accepted" || bad "crl_check rejected a good leaf"
"${V[@]}" "$T/keyCompromise.pem" >"$T/cv.txt" 2>&1 || true
grep -q "certificate revoked" "$T/cv.txt" && ok "crl_check: revoked leaf rejected" || bad "crl_check accepted a revoked leaf"
n=$(openssl crl -inform DER -in "$T/crl.der" -noout -text | grep -c "Serial Number:")
[ "$n" = 10 ] && ok "CRL lists the 10 revoked and held certificates" || bad "CRL has $n entries"
openssl crl -inform DER -in "$T/crl.der" -noout -text | grep -q "Certificate Hold" && ok "CRL: hold reason" || bad "CRL lacks hold"
"$LIB_PY" -c 'import sys; from cryptography import x509; c=x509.load_der_x509_crl(open(sys.argv[1],"rb").read()); assert len(list(c)) == 10; assert c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 0' "$T/crl.der" &&
    ok "python3-cryptography reads the CRL" || bad "python CRL"

# a second node on the same store: the change feed carries a revocation there within a second
HTTP2=$(lib_free_port)
HTTPS2=$(lib_free_port)
serve "$D" "$HTTP2" "$HTTPS2"
S_FEED=$(issue feed --profile device)
O2=(openssl ocsp -issuer "$D/ca/intermediate.pem" -url "http://127.0.0.1:$HTTP2/ocsp" -CAfile "$D/ca/root.pem" -no_nonce)
"${O2[@]}" -cert "$T/feed.pem" 2>&1 | grep -q "feed.pem: good" && ok "node B: good (now cached)" || bad "node B good"
"${Z[@]}" cert revoke "${ZD[@]}" "$S_FEED" --reason keyCompromise >/dev/null # through node A
seen=no
for _ in $(seq 10); do
    sleep 0.1
    if "${O2[@]}" -cert "$T/feed.pem" 2>&1 | grep -q "feed.pem: revoked"; then seen=yes; break; fi
done
[ "$seen" = yes ] && ok "node B answers revoked within 1 s (change feed)" || bad "node B still good after 1 s"
# the same for a status node B holds from a nonce answer
S_FEED2=$(issue feed2 --profile device)
O2N=(openssl ocsp -issuer "$D/ca/intermediate.pem" -url "http://127.0.0.1:$HTTP2/ocsp" -CAfile "$D/ca/root.pem")
"${O2N[@]}" -cert "$T/feed2.pem" 2>&1 | grep -q "feed2.pem: good" && ok "node B: good with a nonce (status cached)" || bad "node B nonce good"
"${Z[@]}" cert revoke "${ZD[@]}" "$S_FEED2" --reason keyCompromise >/dev/null
seen=no
for _ in $(seq 10); do
    sleep 0.1
    if "${O2N[@]}" -cert "$T/feed2.pem" 2>&1 | grep -q "feed2.pem: revoked"; then seen=yes; break; fi
done
[ "$seen" = yes ] && ok "node B's nonce answer says revoked within 1 s (change feed)" || bad "node B nonce still good after 1 s"

# OCSP signer rotation: renew_before longer than the signer's life rotates it at start
before=$(openssl x509 -in "$D/ca/ocsp.pem" -noout -serial)
"${O[@]}" -cert "$T/good.pem" -no_nonce -respout "$T/old-resp.der" >/dev/null 2>&1
"$LIB_PY" - "$D/ztca.conf" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["ocsp"]["signer_renew_before"] = "8d"
json.dump(c, open(sys.argv[1], "w"))
PY
for p in "${PIDS[@]}"; do lib_stop "$p" "ztca serve"; done
serve "$D" "$HTTP" "$HTTPS"
after=$(openssl x509 -in "$D/ca/ocsp.pem" -noout -serial)
[ "$before" != "$after" ] && ok "OCSP signer rotated at start ($after)" || bad "signer not rotated"
[ "$(stat -c %a "$D/private/ocsp.key")" = 600 ] && ok "new signer key 0600" || bad "signer key mode"
"${O[@]}" -cert "$T/good.pem" -no_nonce -resp_text >"$T/new.txt" 2>&1
grep -q "Response verify OK" "$T/new.txt" && grep -qi "Serial Number:" "$T/new.txt" && ok "answers signed by the new signer verify" || bad "new signer: $(head -3 "$T/new.txt")"
openssl ocsp -respin "$T/old-resp.der" -issuer "$D/ca/intermediate.pem" -cert "$T/good.pem" -CAfile "$D/ca/root.pem" >"$T/old.txt" 2>&1
grep -q "Response verify OK" "$T/old.txt" && ok "answers of the old signer still verify (no gap)" || bad "old answer no longer verifies"
"${Z[@]}" cert list "${ZD[@]}" --server "https://127.0.0.1:$HTTPS" | grep -c " ocsp " | grep -q 2 && ok "new signer recorded in the store" || bad "signer not in the store"
openssl verify -x509_strict -purpose ocsphelper -CAfile "$D/ca/root.pem" -untrusted "$D/ca/intermediate.pem" "$D/ca/ocsp.pem" >/dev/null 2>&1 && ok "new signer certificate verifies" || bad "new signer cert"

# ---- a small answer cache under concurrent hits, misses, evictions and revocations ----------
# 8 entries for 40 certificates: every few answers evict the oldest, while 8 clients ask in
# parallel and 10 certificates are revoked meanwhile (each revocation evicts its answers). The
# cache's locking must keep every answer right (and ASan finds a freed answer still queued):
# afterwards each certificate's answer says what the store says.
"$LIB_PY" - "$D/ztca.conf" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["ocsp"]["cache_entries"] = 8
json.dump(c, open(sys.argv[1], "w"))
PY
for p in "${PIDS[@]}"; do lib_stop "$p" "ztca serve"; done
serve "$D" "$HTTP" "$HTTPS"
: >"$T/paths"
for i in $(seq 40); do
    issue "k$i" --profile device >"$T/k$i.serial"
    openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/k$i.pem" -no_nonce -reqout "$T/k$i.req" >/dev/null 2>&1
    echo "http://127.0.0.1:$HTTP/ocsp/$(base64 -w0 "$T/k$i.req" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')" >>"$T/paths"
done
for _ in $(seq 12); do cat "$T/paths"; done | shuf >"$T/load"
xargs -P 8 -n 1 curl -s -o /dev/null -w '%{http_code}\n' <"$T/load" >"$T/load.codes" &
LOAD=$!
for i in $(seq 1 4 40); do
    "${Z[@]}" cert revoke "${ZD[@]}" "$(cat "$T/k$i.serial")" --reason superseded >/dev/null
done
wait "$LOAD"
n200=$(grep -c '^200$' "$T/load.codes" || true)
[ "$n200" = 480 ] && ok "480 GETs from 8 parallel clients over a cache of 8: all 200" ||
    bad "parallel GETs: $n200 of 480 answered 200 ($(sort "$T/load.codes" | uniq -c | tr '\n' ' '))"
wrong=0
for i in $(seq 40); do
    want=good
    [ $(((i - 1) % 4)) = 0 ] && want=revoked
    curl -s -o "$T/k$i.resp" "$(sed -n "${i}p" "$T/paths")"
    openssl ocsp -respin "$T/k$i.resp" -issuer "$D/ca/intermediate.pem" -cert "$T/k$i.pem" \
        -CAfile "$D/ca/root.pem" -no_nonce >"$T/k$i.txt" 2>&1
    grep -q "k$i.pem: $want" "$T/k$i.txt" || { wrong=$((wrong + 1)) && echo "k$i: want $want: $(head -2 "$T/k$i.txt")" >&2; }
done
[ "$wrong" = 0 ] && ok "after the load every answer matches the store (10 revoked, 30 good)" ||
    bad "$wrong of 40 answers do not match the store"
curl -s "http://127.0.0.1:$HTTP/metrics" >"$T/metrics2.txt"
entries=$(sed -n 's/^ztca_ocsp_cache_entries \([0-9]*\)$/\1/p' "$T/metrics2.txt")
[ -n "$entries" ] && [ "$entries" -le 8 ] && ok "the cache holds $entries answers (at most 8)" || bad "cache entries: '$entries'"

lib_finish
