#!/usr/bin/env bash
# Workload certificates for CI jobs: OIDC ID tokens minted here with our own RSA and EC keys
# (python3-cryptography), JWKS from a file (stored inline) and from a loopback HTTP server, the
# provisioner CLI, then POST /v1/certs: the valid token gets a certificate with the mapped SAN and
# a capped TTL; every bad token gets 401 with its own problem type and nothing is issued.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need openssl version
lib_need curl --version
lib_need "$LIB_PY" -c 'import cryptography'

lib_harness

HTTP=$(lib_free_port)
HTTPS=$(lib_free_port)
JWKS_PORT=$(lib_free_port)
D="$T/ca"
"$ZTCA" init --dir "$D" --trust-domain corp.example --public-url "http://127.0.0.1:$HTTP" \
    --api-url "https://127.0.0.1:$HTTPS" >/dev/null
"$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$HTTP" --listen-https "127.0.0.1:$HTTPS" \
    2>"$T/serve.log" &
PIDS+=($!)
lib_wait_http "http://127.0.0.1:$HTTP/healthz" 20 || { bad "server did not start"; exit 1; }

# Keys, JWKS and a minting tool, all from python3-cryptography (independent of ztca).
mkdir "$T/jwks"
cat >"$T/mint.py" <<'PY'
import base64, json, sys, time
from cryptography.hazmat.primitives import hashes, serialization, hmac
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
d = sys.argv[1]
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def uint(n): return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))
if sys.argv[2] == "keys":
    r = rsa.generate_private_key(65537, 2048)
    e = ec.generate_private_key(ec.SECP256R1())
    o = ec.generate_private_key(ec.SECP256R1())  # a key nobody published
    for name, k in (("rsa", r), ("ec", e), ("other", o)):
        open("%s/%s.pem" % (d, name), "wb").write(k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    rn = r.public_key().public_numbers()
    en = e.public_key().public_numbers()
    jwk_rsa = {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": uint(rn.n), "e": uint(rn.e)}
    jwk_ec = {"kty": "EC", "kid": "ec1", "crv": "P-256", "x": b64(en.x.to_bytes(32, "big")), "y": b64(en.y.to_bytes(32, "big"))}
    json.dump({"keys": [jwk_rsa]}, open(d + "/file-jwks.json", "w"))
    json.dump({"keys": [jwk_ec]}, open(d + "/jwks/jwks.json", "w"))
    open(d + "/rsa-pub.pem", "wb").write(r.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    sys.exit(0)
# mint KEYNAME ALG KID CLAIMS-JSON [tamper]
key, alg, kid, claims = sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
now = int(time.time())
for k in ("exp", "iat", "nbf"):
    if isinstance(claims.get(k), str):
        claims[k] = now + int(claims[k])
hdr = {"alg": alg, "typ": "JWT"}
if kid:
    hdr["kid"] = kid
signing = (b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(claims).encode())).encode()
if alg == "none":
    sig = b""
elif alg == "HS256":  # the classic confusion: the RSA public key as an HMAC secret
    h = hmac.HMAC(open(d + "/rsa-pub.pem", "rb").read(), hashes.SHA256())
    h.update(signing)
    sig = h.finalize()
else:
    k = serialization.load_pem_private_key(open("%s/%s.pem" % (d, key), "rb").read(), None)
    if alg == "RS256":
        sig = k.sign(signing, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = utils.decode_dss_signature(k.sign(signing, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
tok = signing.decode() + "." + b64(sig)
if len(sys.argv) > 6 and sys.argv[6] == "tamper":  # change the payload after signing
    h, p, s = tok.split(".")
    c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    c["ref"] = "refs/heads/evil"
    tok = h + "." + b64(json.dumps(c).encode()) + "." + s
if len(sys.argv) > 6 and sys.argv[6] == "badb64":
    tok = tok.replace("-", "+").replace("_", "/") + "=="
print(tok)
PY
"$LIB_PY" "$T/mint.py" "$T" keys
(cd "$T/jwks" && exec "$LIB_PY" -m http.server --bind 127.0.0.1 "$JWKS_PORT" >/dev/null 2>&1) &
PIDS+=($!)
lib_wait_http "http://127.0.0.1:$JWKS_PORT/jwks.json" 10 || { bad "JWKS server"; exit 1; }

Z=("$ZTCA")
ZD=(--dir "$D" --server "https://127.0.0.1:$HTTPS")
GH_ISS="http://127.0.0.1:$JWKS_PORT/github"
GL_ISS="http://127.0.0.1:$JWKS_PORT/gitlab"
"${Z[@]}" provisioner add gh "${ZD[@]}" --type oidc --issuer "$GH_ISS" --audience ztca-test \
    --jwks "$T/file-jwks.json" --san 'spiffe://corp.example/workload/github/{repository}/{ref}' \
    --require repository_owner=corp --max-ttl 30m >/dev/null && ok "provisioner add (JWKS file)" || bad "provisioner add gh"
"${Z[@]}" provisioner add gl "${ZD[@]}" --type oidc --issuer "$GL_ISS" --audience ztca-test \
    --jwks "http://127.0.0.1:$JWKS_PORT/jwks.json" --san 'spiffe://corp.example/workload/gitlab/{project_path}' \
    --require namespace_path=corp >/dev/null && ok "provisioner add (JWKS URL)" || bad "provisioner add gl"
"${Z[@]}" provisioner add bad "${ZD[@]}" --type oidc --issuer "$GH_ISS" --audience a \
    --jwks "$T/file-jwks.json" --san 'spiffe://other.example/workload/{sub}' --require x=y >/dev/null 2>"$T/e" &&
    bad "a template of another trust domain was accepted" || ok "template of another trust domain refused"
"${Z[@]}" provisioner list "${ZD[@]}" | grep -q "^gh " && ok "provisioner list" || bad "provisioner list"

openssl ecparam -name prime256v1 -genkey -noout -out "$T/w.key"
openssl req -new -key "$T/w.key" -subj /CN=ignored -out "$T/w.csr"
csr_json=$("$LIB_PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/w.csr")
gh_claims() { # extra JSON members
    printf '{"iss":"%s","aud":"ztca-test","sub":"repo:corp/app:ref:refs/heads/main","exp":"600","iat":"0","nbf":"0","repository":"corp/app","ref":"refs/heads/main","repository_owner":"corp"%s}' "$GH_ISS" "${1:-}"
}
post() { # token [ttl] -> HTTP status; body in $T/body
    curl -sS --cacert "$D/ca/root.pem" -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' --data "{\"csr\":$csr_json,\"ttl\":\"${2:-2h}\"}" \
        "https://127.0.0.1:$HTTPS/v1/certs"
}
count() { "${Z[@]}" cert list "${ZD[@]}" --json --limit 1000 | grep -c '"profile": "workload"' || true; }

tok=$("$LIB_PY" "$T/mint.py" "$T" rsa RS256 rsa1 "$(gh_claims ',"jti":"run-1"')")
code=$(post "$tok")
[ "$code" = 201 ] && ok "valid RS256 token: 201" || { bad "valid token: $code $(cat "$T/body")"; }
"$LIB_PY" - "$T/body" "$T/w.pem" <<'PY' && ok "SAN mapped from the claims, TTL capped at 30m" || bad "certificate content"
import json, sys
from cryptography import x509
a = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write(a["certificate"])
c = x509.load_pem_x509_certificate(a["certificate"].encode())
uris = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.UniformResourceIdentifier)
assert uris == ["spiffe://corp.example/workload/github/corp/app/refs/heads/main"], uris
life = (c.not_valid_after - c.not_valid_before).total_seconds()
assert life == 30 * 60 + 60, life  # capped to the provisioner's 30m (requested 2h), backdated 1m
PY
openssl verify -x509_strict -purpose sslclient -CAfile "$D/ca/root.pem" -untrusted "$D/ca/intermediate.pem" "$T/w.pem" >/dev/null 2>&1 &&
    ok "openssl verify -x509_strict sslclient" || bad "workload certificate does not verify"
code=$(post "$tok")
[ "$code" = 401 ] && grep -q 'urn:ztca:problem:oidc-replayed' "$T/body" && ok "replayed token: 401 oidc-replayed" || bad "replay: $code $(cat "$T/body")"

tok=$("$LIB_PY" "$T/mint.py" "$T" ec ES256 ec1 "{\"iss\":\"$GL_ISS\",\"aud\":[\"x\",\"ztca-test\"],\"sub\":\"project_path:corp/svc\",\"exp\":\"300\",\"iat\":\"0\",\"project_path\":\"corp/svc\",\"namespace_path\":\"corp\"}")
code=$(post "$tok" 10m)
[ "$code" = 201 ] && grep -q 'spiffe://corp.example/workload/gitlab/corp/svc' "$T/body" &&
    ok "valid ES256 token, JWKS fetched from a URL: 201" || bad "ES256 via URL: $code $(cat "$T/body")"

before=$(count)
refuse() { # name expected-type token
    local code
    code=$(post "$3")
    if [ "$code" = 401 ] && grep -q "\"urn:ztca:problem:$2\"" "$T/body"; then
        ok "$1: 401 $2"
    else
        bad "$1: $code $(head -c 300 "$T/body")"
    fi
}
mint() { "$LIB_PY" "$T/mint.py" "$T" "$@"; }
refuse expired oidc-expired "$(mint rsa RS256 rsa1 "$(gh_claims ',"jti":"e1"' | sed 's/"exp":"600"/"exp":"-600"/')")"
refuse "not yet valid" oidc-not-yet-valid "$(mint rsa RS256 rsa1 "$(gh_claims ',"jti":"e2"' | sed 's/"nbf":"0"/"nbf":"600"/')")"
refuse "wrong audience" oidc-audience-mismatch "$(mint rsa RS256 rsa1 "$(gh_claims ',"jti":"e3"' | sed 's/"aud":"ztca-test"/"aud":"someone-else"/')")"
refuse "unknown issuer" oidc-issuer-mismatch "$(mint rsa RS256 rsa1 "$(gh_claims ',"jti":"e4"' | sed "s|\"iss\":\"$GH_ISS\"|\"iss\":\"https://evil.example\"|")")"
refuse "unknown kid" oidc-kid-unknown "$(mint other ES256 nobody "$(gh_claims ',"jti":"e5"')")"
refuse "alg none" oidc-alg-none "$(mint rsa none rsa1 "$(gh_claims ',"jti":"e6"')")"
refuse "HS256 with the public key" oidc-alg-hmac "$(mint rsa HS256 rsa1 "$(gh_claims ',"jti":"e7"')")"
refuse "tampered payload" oidc-signature-invalid "$(mint rsa RS256 rsa1 "$(gh_claims ',"jti":"e8"')" tamper)"
refuse "bad base64url" oidc-token-malformed "$(mint rsa RS256 rsa1 "$(gh_claims ',"jti":"e9"')" badb64)"
refuse "claim outside the character set" oidc-claim-charset "$(mint rsa RS256 rsa1 "$(gh_claims ',"jti":"e10"' | sed 's|"repository":"corp/app"|"repository":"corp/../x"|')")"
refuse "required owner missing" oidc-claim-mismatch "$(mint rsa RS256 rsa1 "$(gh_claims ',"jti":"e11"' | sed 's|"repository_owner":"corp"|"repository_owner":"attacker"|')")"
refuse "an ES256 token naming the RSA key" oidc-key-mismatch "$(mint other ES256 rsa1 "$(gh_claims ',"jti":"e12"')")"
refuse "signed by a key nobody published" oidc-signature-invalid "$(mint other ES256 ec1 "{\"iss\":\"$GL_ISS\",\"aud\":\"ztca-test\",\"sub\":\"s\",\"exp\":\"300\",\"project_path\":\"corp/svc\",\"namespace_path\":\"corp\",\"jti\":\"e13\"}")"
after=$(count)
[ "$before" = "$after" ] && ok "no certificate issued for any refused token ($after workload certificates)" || bad "refused tokens issued certificates: $before -> $after"

code=$(curl -sS --cacert "$D/ca/root.pem" --cert "$D/admin/cert.pem" --key "$D/admin/key.pem" -o "$T/audit" -w '%{http_code}' "https://127.0.0.1:$HTTPS/v1/audit?limit=1000")
[ "$code" = 200 ] && grep -q '"actor":"oidc:gh"' "$T/audit" && grep -q '"repository":"corp/app"' "$T/audit" && grep -q "\"issuer\":\"$GH_ISS\"" "$T/audit" &&
    ok "audit: issuance by oidc:gh with issuer, subject and claims" || bad "audit entry for OIDC issuance"
"${Z[@]}" provisioner remove gl "${ZD[@]}" >/dev/null && ok "provisioner remove" || bad "remove"
tok=$(mint ec ES256 ec1 "{\"iss\":\"$GL_ISS\",\"aud\":\"ztca-test\",\"sub\":\"s\",\"exp\":\"300\",\"project_path\":\"corp/svc\",\"namespace_path\":\"corp\",\"jti\":\"after-remove\"}")
sleep 0 # the node reloads provisioners at once after a change through it
refuse "provisioner removed" oidc-issuer-mismatch "$tok"
if grep -q "$tok" "$T/serve.log"; then bad "a token reached the server log"; else ok "no token in the server log"; fi

lib_finish
