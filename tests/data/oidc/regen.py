#!/usr/bin/python3
"""regen.py: the OIDC test vectors of tests/unit/test_enroll.c and the seeds of the fuzz corpora
jwt/, jwks/ and provisioner/ (tests/fuzz/corpus/README.md).

Independent of ztca's code: keys, JWKS, tokens and expected values are made here with Debian's
python3-cryptography (38) and the standard library only. Keys are random and not kept, so each run
rewrites every file; the committed ones are the reference. The RFC 7515 A.2/A.3 and RFC 7517 A.1
examples are checked here against python-cryptography before they are written.

Tokens carry times around NOW (below); the C test passes NOW as the verifier's clock.

usage: /usr/bin/python3 tests/data/oidc/regen.py      (from anywhere)
"""
import base64
import hashlib
import hmac
import json
import os
import shutil

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

NOW = 1790000000  # 2026-09-21T13:33:20Z, the C test's T_NOW
ISS = "https://token.actions.githubusercontent.com"
AUD = "https://ca.corp.example"
TD = "corp.example"
SAN = "spiffe://corp.example/workload/github/{repository}/{ref}"
JWKS_URI = "https://token.actions.githubusercontent.com/.well-known/jwks"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TOKENS = os.path.join(HERE, "tokens")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def uint(i, size=None):
    size = size or max(1, (i.bit_length() + 7) // 8)
    return b64u(i.to_bytes(size, "big"))


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- keys and JWKS --------------------------------------------------------------------------

rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_other = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # not in the JWKS
rsa_enc = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
ec256 = ec.generate_private_key(ec.SECP256R1())
ec384 = ec.generate_private_key(ec.SECP384R1())
ec521 = ec.generate_private_key(ec.SECP521R1())
okp = ed25519.Ed25519PrivateKey.generate()


def jwk_rsa(key, **extra):
    n = key.public_key().public_numbers()
    return dict(kty="RSA", n=uint(n.n), e=uint(n.e), **extra)


def jwk_ec(key, crv, size, **extra):
    n = key.public_key().public_numbers()
    return dict(kty="EC", crv=crv, x=uint(n.x, size), y=uint(n.y, size), **extra)


okp_pub = okp.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
jwks = {"keys": [
    jwk_rsa(rsa_key, kid="rsa-1", use="sig", alg="RS256"),
    jwk_ec(ec256, "P-256", 32, kid="ec-1", use="sig"),
    jwk_ec(ec384, "P-384", 48, kid="ec-384", use="sig", alg="ES384"),
    jwk_rsa(rsa_enc, kid="rsa-enc", use="enc", alg="RSA-OAEP"),      # skipped: encryption
    dict(kty="OKP", crv="Ed25519", x=b64u(okp_pub), kid="ed-1"),    # skipped: not verified
    jwk_ec(ec521, "P-521", 66, kid="ec-521"),                         # skipped: curve
]}
jwks_single = {"keys": [jwk_rsa(rsa_key, kid="rsa-1")]}
jwks_weak = {"keys": [jwk_rsa(rsa_weak, kid="weak")]}
rsa_pub_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)

# ---- tokens ---------------------------------------------------------------------------------


def claims(**changes):
    c = {
        "iss": ISS,
        "aud": AUD,
        "sub": "repo:corp/app:ref:refs/heads/main",
        "repository": "corp/app",
        "repository_owner": "corp",
        "ref": "refs/heads/main",
        "workflow": "deploy",
        "run_id": "4242",
        "jti": "7f9b1c2e-5d4a-4e3b-9a8f-0c1d2e3f4a5b",
        "nbf": NOW - 60,
        "iat": NOW - 60,
        "exp": NOW + 240,
    }
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def sign_input(alg, key, data):
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "RS384":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA384())
    if alg in ("ES256", "ES384"):
        h = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        size = 32 if alg == "ES256" else 48
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise ValueError(alg)


def jws(header, payload, key, alg=None, raw_header=None, raw_payload=None):
    h = raw_header if raw_header is not None else compact(header)
    p = raw_payload if raw_payload is not None else compact(payload)
    signing_input = (b64u(h) + "." + b64u(p)).encode()
    sig = sign_input(alg or header["alg"], key, signing_input)
    return signing_input.decode() + "." + b64u(sig)


RS = {"alg": "RS256", "typ": "JWT", "kid": "rsa-1"}
tokens = {}
expected = {}


def valid(name, tok, c, jwks_name="jwks.json", prov="provisioner.json"):
    tokens[name] = tok
    head, body, _ = tok.split(".")
    if "jti" in c:
        key = hashlib.sha256(b"ztca-oidc-jti\0" + ISS.encode() + b"\0" + c["jti"].encode())
    else:
        key = hashlib.sha256((head + "." + body).encode())
    used = {k: c[k] for k in ("iss", "sub", "exp", "jti", "nbf", "iat", "repository",
                              "repository_owner", "ref") if k in c}
    used["aud"] = AUD
    for k in ("exp", "nbf", "iat"):  # NumericDates are rounded to the stricter side
        if k in used and isinstance(used[k], float):
            used[k] = int(used[k]) if k == "exp" else -int(-used[k] // 1)
    expected[name] = {
        "jwks": jwks_name,
        "provisioner": prov,
        "subject": c["sub"],
        "uri": "spiffe://%s/workload/github/%s/%s" % (TD, c["repository"], c["ref"]),
        "replay_key": key.hexdigest(),
        "replay_from_jti": "jti" in c,
        "expires": int(c["exp"]),
        "claims_json": json.dumps(used, separators=(",", ":"), sort_keys=True),
    }


# Accepted.
c = claims()
valid("valid_rs256", jws(RS, c, rsa_key), c)
c = claims()
valid("valid_es256", jws({"alg": "ES256", "typ": "JWT", "kid": "ec-1"}, c, ec256), c)
c = claims()
valid("valid_es384", jws({"alg": "ES384", "kid": "ec-384"}, c, ec384), c,
      prov="provisioner_all_algs.json")
c = claims(jti=None)
valid("valid_no_jti", jws(RS, c, rsa_key), c)
c = claims(jti=None)  # the C test also checks that (r, n - s) verifies and keeps the replay key
valid("valid_es256_no_jti", jws({"alg": "ES256", "kid": "ec-1"}, c, ec256), c)
c = claims(aud=["https://other.example", AUD])
valid("valid_aud_array", jws(RS, c, rsa_key), c)
c = claims()
valid("valid_typ_media_type", jws(dict(RS, typ="application/JWT"), c, rsa_key), c)
c = claims()  # jku/x5u/x5c are never followed; the key still comes from the JWKS by kid
valid("valid_jku_ignored", jws({"alg": "RS256", "kid": "rsa-1", "jku": "https://evil.example/j",
                                "x5u": "https://evil.example/c"}, c, rsa_key), c)
c = claims(exp=NOW - 59, nbf=NOW + 60, iat=NOW + 60)  # every time at the edge of the 60 s skew
valid("valid_skew_edges", jws(RS, c, rsa_key), c)
c = claims(exp=NOW + 100.5, iat=NOW - 10.25, nbf=None)
valid("valid_fractional_times", jws(RS, c, rsa_key), c)
c = claims(ref="refs/heads/feature/x-1.2_b")
valid("valid_branch_path", jws(RS, c, rsa_key), c)
c = claims()
valid("valid_no_kid", jws({"alg": "RS256"}, c, rsa_key), c, jwks_name="jwks_single.json")
c = claims(iat=NOW - 86400 - 60, nbf=None)  # the oldest accepted iat
valid("valid_iat_oldest", jws(RS, c, rsa_key), c)
# Exactly ENROLL_TOKEN_MAX (16384) bytes. base64 never yields a length of 1 mod 4, so an ignored
# header member of 0-3 characters fine-tunes the length.
t = None
for hpad in ("", "x", "xx", "xxx"):
    head = dict(RS, note=hpad) if hpad else RS
    lo, hi = 0, 16384
    while lo < hi:  # the longest padding claim that keeps the token within 16384 bytes
        mid = (lo + hi + 1) // 2
        if len(jws(head, claims(padding="A" * mid), rsa_key)) <= 16384:
            lo = mid
        else:
            hi = mid - 1
    c = claims(padding="A" * lo)
    t = jws(head, c, rsa_key)
    if len(t) == 16384:
        break
assert len(t) == 16384, len(t)
valid("valid_max_size", t, c)

# Refused: name -> token. The C test holds the reason each must give.
neg = {}
neg["expired"] = jws(RS, claims(exp=NOW - 60), rsa_key)
neg["not_yet_valid"] = jws(RS, claims(nbf=NOW + 61), rsa_key)
neg["iat_future"] = jws(RS, claims(iat=NOW + 61, nbf=None), rsa_key)
neg["iat_too_old"] = jws(RS, claims(iat=NOW - 86400 - 61, nbf=None), rsa_key)
neg["token_lifetime"] = jws(RS, claims(exp=NOW + 86400 + 61), rsa_key)
neg["wrong_audience"] = jws(RS, claims(aud="https://evil.example"), rsa_key)
neg["wrong_audience_array"] = jws(RS, claims(aud=["https://a.example", "ztca"]), rsa_key)
neg["wrong_issuer"] = jws(RS, claims(iss="https://evil.example"), rsa_key)
neg["wrong_issuer_trailing_slash"] = jws(RS, claims(iss=ISS + "/"), rsa_key)
neg["issuer_missing"] = jws(RS, claims(iss=None), rsa_key)
neg["unknown_kid"] = jws(dict(RS, kid="rsa-2"), claims(), rsa_other)
neg["kid_missing"] = tokens["valid_no_kid"]  # against jwks.json, which has three keys
neg["kid_number"] = jws(dict(RS, kid=5), claims(), rsa_key)
neg["alg_none"] = b64u(compact({"alg": "none", "typ": "JWT"})) + "." + b64u(compact(claims())) + "."
neg["alg_none_mixed_case"] = (b64u(compact({"alg": "nOnE"})) + "." + b64u(compact(claims()))
                              + "." + b64u(b"junk"))
# The key confusion attack: HMAC keyed with the RSA public key a verifier might hold as "key".
hs_input = (b64u(compact({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})) + "."
            + b64u(compact(claims()))).encode()
neg["alg_hs256_public_key"] = (hs_input.decode() + "."
                               + b64u(hmac.new(rsa_pub_pem, hs_input, hashlib.sha256).digest()))
hs_input = (b64u(compact({"alg": "HS512", "kid": "rsa-1"})) + "." + b64u(compact(claims()))).encode()
neg["alg_hs512_public_key"] = (hs_input.decode() + "."
                               + b64u(hmac.new(rsa_pub_pem, hs_input, hashlib.sha512).digest()))
ps_input = (b64u(compact({"alg": "PS256", "kid": "rsa-1"})) + "." + b64u(compact(claims()))).encode()
neg["alg_ps256"] = ps_input.decode() + "." + b64u(rsa_key.sign(
    ps_input, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()))
neg["alg_es384_not_allowed"] = tokens["valid_es384"]  # provisioner.json allows RS256, ES256
neg["alg_missing"] = jws({"kid": "rsa-1"}, claims(), rsa_key, alg="RS256")
neg["alg_number"] = jws({"alg": 256, "kid": "rsa-1"}, claims(), rsa_key, alg="RS256")
h, p, s = tokens["valid_rs256"].split(".")
neg["tampered_payload"] = h + "." + b64u(compact(claims(repository="corp/admin"))) + "." + s
sig = bytearray(unb64u(s))
sig[100] ^= 0x01
neg["tampered_signature"] = h + "." + p + "." + b64u(bytes(sig))
neg["rs256_signature_short"] = h + "." + p + "." + b64u(unb64u(s)[:-1])
neg["rs256_signature_empty"] = h + "." + p + "."
assert "-" in s and "_" in s, "regenerate: the signature lacks '-' or '_'"
neg["b64_plus"] = h + "." + p + "." + s.replace("-", "+")
neg["b64_slash"] = h + "." + p + "." + s.replace("_", "/")
hp = b64u(compact(RS))
assert len(hp) % 4 != 0
neg["b64_padding"] = hp + "=" * (-len(hp) % 4) + "." + p + "." + s
# A last character whose unused low bits are not zero: decodes "the same" in lax decoders.
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
mask = 0x0f if len(s) % 4 == 2 else 0x03
last = alphabet.index(s[-1])
assert last & mask == 0
neg["b64_noncanonical_bits"] = h + "." + p + "." + s[:-1] + alphabet[last | 1]
neg["b64_newline"] = h + "." + p[:20] + "\n" + p[20:] + "." + s
neg["b64_length_1_mod_4"] = h + "." + p + "." + s + "AAAAA"[: (1 - len(s)) % 4 or 4]
neg["two_parts"] = h + "." + p
neg["four_parts"] = h + "." + p + "." + s + "." + s
neg["empty_header"] = "." + p + "." + s
neg["empty_payload"] = h + ".." + s
neg["empty"] = ""
neg["header_not_json"] = b64u(b"not json") + "." + p + "." + s
neg["header_array"] = jws(None, claims(), rsa_key, alg="RS256", raw_header=b'["RS256"]')
neg["header_dup_alg"] = jws(None, claims(), rsa_key, alg="RS256",
                            raw_header=b'{"alg":"RS256","alg":"none","kid":"rsa-1"}')
neg["payload_dup_claim"] = jws(RS, None, rsa_key, raw_payload=compact(claims())[:-1]
                               + b',"repository":"corp/admin"}')
neg["payload_not_object"] = jws(RS, None, rsa_key, raw_payload=b'["corp/app"]')
neg["payload_not_json"] = jws(RS, None, rsa_key, raw_payload=b"corp/app")
neg["payload_nul"] = jws(RS, None, rsa_key,
                         raw_payload=compact(claims())[:-1] + b',"x":"a\\u0000b"}')
neg["es256_der_signature"] = (lambda i: i + "." + b64u(ec256.sign(i.encode(), ec.ECDSA(
    hashes.SHA256()))))(b64u(compact({"alg": "ES256", "kid": "ec-1"})) + "." + b64u(compact(claims())))
neg["es256_with_rsa_key"] = jws({"alg": "ES256", "kid": "rsa-1"}, claims(), ec256)
neg["es256_with_p384_key"] = jws({"alg": "ES256", "kid": "ec-384"}, claims(), ec256)
neg["rs256_with_ec_key"] = jws({"alg": "RS256", "kid": "ec-1"}, claims(), rsa_key)
neg["crit_header"] = jws(dict(RS, crit=["exp"], exp=NOW + 240), claims(), rsa_key)
neg["crit_b64"] = jws(dict(RS, crit=["b64"], b64=False), claims(), rsa_key)
neg["typ_invalid"] = jws(dict(RS, typ="at+jwt"), claims(), rsa_key)
neg["typ_number"] = jws(dict(RS, typ=1), claims(), rsa_key)
attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
neg["embedded_jwk_attack"] = jws(dict(RS, jwk=jwk_rsa(attacker), jku="https://evil.example/jwks"),
                                 claims(), attacker)
neg["too_large"] = jws(RS, claims(padding="A" * 17 * 1024), rsa_key)
for name, value in {
    "space": "refs/heads/my branch",
    "dotdot": "refs/heads/../../admin",
    "percent": "refs/heads/a%2F..",
    "newline": "refs/heads/a\nb",
    "empty_segment": "refs//heads/main",
    "trailing_slash": "refs/heads/main/",
    "leading_slash": "/refs/heads/main",
    "unicode": "refs/heads/caf\u00e9",
    "query": "refs/heads/main?x=1",
    "fragment": "refs/heads/main#x",
    "colon": "refs/heads/a:b",
    "empty": "",
}.items():
    neg["charset_ref_" + name] = jws(RS, claims(ref=value), rsa_key)
neg["charset_repository_at"] = jws(RS, claims(repository="corp@evil.example/app"), rsa_key)
neg["san_dot_repository"] = jws(RS, claims(repository="corp/.github"), rsa_key)
neg["san_long_segment"] = jws(RS, claims(ref="refs/heads/" + "a" * 65), rsa_key)
neg["san_too_long"] = jws(RS, claims(ref="refs/heads/" + "/".join(["abcdefghij"] * 18)), rsa_key)
neg["claim_missing_ref"] = jws(RS, claims(ref=None), rsa_key)
neg["claim_invalid_ref"] = jws(RS, claims(ref=42), rsa_key)
neg["claim_mismatch_owner"] = jws(RS, claims(repository_owner="evil"), rsa_key)
neg["claim_mismatch_owner_case"] = jws(RS, claims(repository_owner="Corp"), rsa_key)
neg["claim_mismatch_owner_array"] = jws(RS, claims(repository_owner=["corp"]), rsa_key)
neg["claim_missing_owner"] = jws(RS, claims(repository_owner=None), rsa_key)
neg["exp_missing"] = jws(RS, claims(exp=None), rsa_key)
neg["exp_string"] = jws(RS, claims(exp=str(NOW + 240)), rsa_key)
neg["exp_negative"] = jws(RS, claims(exp=-1), rsa_key)
neg["nbf_bool"] = jws(RS, claims(nbf=True), rsa_key)
neg["sub_missing"] = jws(RS, claims(sub=None), rsa_key)
neg["sub_control"] = jws(RS, claims(sub="repo:corp/app\r\nforged=1"), rsa_key)
neg["jti_number"] = jws(RS, claims(jti=5), rsa_key)
neg["aud_number"] = jws(RS, claims(aud=5), rsa_key)
neg["aud_empty_array"] = jws(RS, claims(aud=[]), rsa_key)
neg["iss_number"] = jws(RS, claims(iss=1), rsa_key)
assert not (set(neg) & set(tokens))
tokens.update(neg)

# ---- RFC examples ---------------------------------------------------------------------------

# RFC 7515 A.2 (RS256) and A.3 (ES256): header, payload, public key and signature as printed.
A_PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
assert unb64u(A_PAYLOAD) == b'{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}'
A2 = ("eyJhbGciOiJSUzI1NiJ9." + A_PAYLOAD + ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XO"
      "iZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgr"
      "nbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsq"
      "tFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_Ioyp"
      "GlUPQGe77Rw")
A2_JWK = {"kty": "RSA", "e": "AQAB", "n": (
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d"
    "4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMd"
    "bBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ")}
A3 = ("eyJhbGciOiJFUzI1NiJ9." + A_PAYLOAD
      + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
A3_JWK = {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
          "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
# RFC 7517 A.1: one EC key for encryption ("use": "enc") and one RSA signing key.
RFC7517 = {"keys": [
    {"kty": "EC", "crv": "P-256", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
     "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", "use": "enc", "kid": "1"},
    {"kty": "RSA", "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJE"
        "CPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
        "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
        "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"),
     "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}]}


def int_of(s):
    return int.from_bytes(unb64u(s), "big")


h, p, s = A2.split(".")
rsa.RSAPublicNumbers(int_of(A2_JWK["e"]), int_of(A2_JWK["n"])).public_key().verify(
    unb64u(s), (h + "." + p).encode(), padding.PKCS1v15(), hashes.SHA256())
h, p, s = A3.split(".")
raw = unb64u(s)
ec.EllipticCurvePublicNumbers(int_of(A3_JWK["x"]), int_of(A3_JWK["y"]), ec.SECP256R1()).public_key(
).verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
         (h + "." + p).encode(), ec.ECDSA(hashes.SHA256()))
for k in RFC7517["keys"]:  # both are valid public keys
    if k["kty"] == "EC":
        ec.EllipticCurvePublicNumbers(int_of(k["x"]), int_of(k["y"]), ec.SECP256R1()).public_key()
    else:
        assert int_of(k["n"]).bit_length() == 2048

# ---- provisioners ---------------------------------------------------------------------------

prov = {"name": "github", "type": "oidc", "issuer": ISS, "audience": AUD, "jwks_uri": JWKS_URI,
        "san": SAN, "algorithms": ["RS256", "ES256"], "require": {"repository_owner": "corp"},
        "max_ttl": 900, "clock_skew": 60}
prov_all = dict(prov, name="github-all", algorithms=["RS256", "RS384", "ES256", "ES384"])
prov_inline = {"name": "gitlab", "type": "oidc", "issuer": "https://gitlab.example.com",
               "audience": "ztca", "jwks": jwks_single,
               "san": "spiffe://corp.example/workload/gitlab/{project_path}/{ref_type}-{ref}",
               "require": {"namespace_path": "platform"}, "max_ttl": 3600}
prov_minimal = {"name": "ci", "type": "oidc", "issuer": "http://127.0.0.1:8080/oidc",
                "audience": "ztca", "jwks_uri": "http://localhost:8080/jwks",
                "san": "spiffe://corp.example/workload/ci/{sub}"}

# ---- output ---------------------------------------------------------------------------------

shutil.rmtree(TOKENS, ignore_errors=True)
for name, tok in tokens.items():
    write(os.path.join(TOKENS, name + ".jwt"), tok)
write(os.path.join(HERE, "jwks.json"), json.dumps(jwks, indent=2) + "\n")
write(os.path.join(HERE, "jwks_single.json"), json.dumps(jwks_single, indent=2) + "\n")
write(os.path.join(HERE, "jwks_weak.json"), json.dumps(jwks_weak, indent=2) + "\n")
write(os.path.join(HERE, "rsa_public.pem"), rsa_pub_pem)
write(os.path.join(HERE, "rfc7515_a2.jwt"), A2)
write(os.path.join(HERE, "rfc7515_a3.jwt"), A3)
write(os.path.join(HERE, "rfc7515_a2_jwks.json"), json.dumps({"keys": [A2_JWK]}, indent=2) + "\n")
write(os.path.join(HERE, "rfc7515_a3_jwks.json"), json.dumps({"keys": [A3_JWK]}, indent=2) + "\n")
write(os.path.join(HERE, "rfc7517_a1_jwks.json"), json.dumps(RFC7517, indent=2) + "\n")
for name, obj in (("provisioner", prov), ("provisioner_all_algs", prov_all),
                  ("provisioner_inline", prov_inline), ("provisioner_minimal", prov_minimal)):
    write(os.path.join(HERE, name + ".json"), json.dumps(obj, indent=2) + "\n")
write(os.path.join(HERE, "expected.json"), json.dumps(expected, indent=2, sort_keys=True) + "\n")

# Fuzz seeds (named; content-hash seeds found by fuzzing are left alone).
for d in ("jwt", "jwks", "provisioner"):
    os.makedirs(os.path.join(CORPUS, d), exist_ok=True)
    for f in os.listdir(os.path.join(CORPUS, d)):
        if not (len(f) == 40 and all(ch in "0123456789abcdef" for ch in f)):
            os.remove(os.path.join(CORPUS, d, f))
for name, tok in tokens.items():
    write(os.path.join(CORPUS, "jwt", name + ".jwt"), tok)
write(os.path.join(CORPUS, "jwt", "rfc7515_a2.jwt"), A2)
write(os.path.join(CORPUS, "jwt", "rfc7515_a3.jwt"), A3)
write(os.path.join(CORPUS, "jwt", "claims_valid.json"), compact(claims()))  # the payload path
write(os.path.join(CORPUS, "jwt", "claims_fractional.json"),
      compact(claims(exp=NOW + 100.5, aud=["x", AUD], jti=None)))
for name, obj in (("jwks", jwks), ("single", jwks_single), ("weak_rsa1024", jwks_weak),
                  ("rfc7517_a1", RFC7517), ("rfc7515_a2", {"keys": [A2_JWK]}),
                  ("rfc7515_a3", {"keys": [A3_JWK]})):
    write(os.path.join(CORPUS, "jwks", name + ".json"), compact(obj))
k = jwk_ec(ec256, "P-256", 32, kid="a")
bad = {
    "private_d": {"keys": [dict(k, d=uint(ec256.private_numbers().private_value, 32))]},
    "dup_kid": {"keys": [k, dict(k)]},
    "off_curve": {"keys": [dict(k, y=uint((int_of(k["y"]) + 1) % (2**256), 32))]},
    "short_x": {"keys": [dict(k, x=b64u(unb64u(k["x"])[1:]))]},
    "rsa_leading_zero": {"keys": [dict(jwk_rsa(rsa_key), n="AA" + jwk_rsa(rsa_key)["n"])]},
    "alg_mismatch": {"keys": [dict(k, alg="RS256")]},
    "oct_secret": {"keys": [{"kty": "oct", "k": b64u(b"secret")}]},
    "use_enc_only": {"keys": [dict(k, use="enc")]},
    "key_ops_sign_only": {"keys": [dict(k, key_ops=["sign"])]},
    "no_keys": {"keys": []},
    "keys_not_array": {"keys": k},
    "kty_missing": {"keys": [{"crv": "P-256", "x": k["x"], "y": k["y"]}]},
    "too_many": {"keys": [dict(k, kid=str(i)) for i in range(65)]},
}
bad["dup_member"] = b'{"keys":[],"keys":[]}'
bad["not_object"] = b'[{"keys":[]}]'
bad["trailing_garbage"] = compact(jwks_single) + b"x"
bad["kid_number"] = {"keys": [dict(k, kid=1)]}
bad["use_number"] = {"keys": [dict(k, use=1)]}
bad["n_padded"] = {"keys": [dict(jwk_rsa(rsa_key), e="AQAB==")]}
shutil.rmtree(os.path.join(HERE, "jwks_bad"), ignore_errors=True)
for name, obj in bad.items():
    data = obj if isinstance(obj, bytes) else compact(obj)
    write(os.path.join(HERE, "jwks_bad", name + ".json"), data)
    write(os.path.join(CORPUS, "jwks", "bad_" + name + ".json"), data)
write(os.path.join(CORPUS, "jwks", "truncated.json"), compact(jwks)[:100])
for name, obj in (("github", prov), ("all_algs", prov_all), ("inline", prov_inline),
                  ("minimal", prov_minimal)):
    write(os.path.join(CORPUS, "provisioner", name + ".json"), compact(obj))
badp = {
    "unknown_member": dict(prov, requires={"a": "b"}),
    "http_issuer": dict(prov, issuer="http://token.example"),
    "issuer_query": dict(prov, issuer=ISS + "?x=1"),
    "both_jwks": dict(prov, jwks=jwks_single),
    "no_jwks": {k2: v for k2, v in prov.items() if k2 != "jwks_uri"},
    "alg_none": dict(prov, algorithms=["none"]),
    "alg_hs256": dict(prov, algorithms=["HS256"]),
    "alg_twice": dict(prov, algorithms=["RS256", "RS256"]),
    "san_bad_placeholder": dict(prov, san="spiffe://corp.example/workload/{repo-name}"),
    "san_not_workload": dict(prov, san="spiffe://corp.example/agent/{sub}"),
    "san_no_placeholder_no_require": dict(prov, san="spiffe://corp.example/workload/x",
                                          require={}),
    "san_empty_segment": dict(prov, san="spiffe://corp.example/workload//{ref}"),
    "skew_too_big": dict(prov, clock_skew=301),
    "ttl_too_big": dict(prov, max_ttl=3601),
    "bad_name": dict(prov, name="-github"),
    "type_saml": dict(prov, type="saml"),
    "require_control": dict(prov, require={"ref": "a\tb"}),
}
badp["dup_member"] = compact(prov)[:-1] + b',"name":"other"}'
badp["inline_jwks_private"] = dict(prov_inline, jwks=bad["private_d"])
badp["max_ttl_string"] = dict(prov, max_ttl="1h")
badp["require_array"] = dict(prov, require=["repository_owner=corp"])
badp["type_missing"] = {k2: v for k2, v in prov.items() if k2 != "type"}
shutil.rmtree(os.path.join(HERE, "provisioner_bad"), ignore_errors=True)
for name, obj in badp.items():
    data = obj if isinstance(obj, bytes) else compact(obj)
    write(os.path.join(HERE, "provisioner_bad", name + ".json"), data)
    write(os.path.join(CORPUS, "provisioner", "bad_" + name + ".json"), data)
print("wrote %d tokens, %d expected verdicts" % (len(tokens), len(expected)))
