#!/usr/bin/env bash
# make_enroll_seeds.sh: the named seeds of enroll_request/ and agent_files/ (tests/fuzz/corpus/
# README.md), from the swtpm blobs of tests/data/attest/ and hand-written JSON. Run by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python3 - "$here" "$here/../../data/attest" <<'PY'
import base64, json, os, sys
out, data = sys.argv[1], sys.argv[2]
b64 = lambda name: base64.b64encode(open(os.path.join(data, name), "rb").read()).decode()
er = os.path.join(out, "enroll_request"); af = os.path.join(out, "agent_files")
os.makedirs(er, exist_ok=True); os.makedirs(af, exist_ok=True)
def put(d, name, text):
    open(os.path.join(d, name), "w" if isinstance(text, str) else "wb").write(text)
begin = {"ek_certificate": b64("ek_rsa.der"), "ek_public": b64("ek_rsa.pub"),
         "ak_public": b64("ak_e256.pub"), "key_public": b64("tls.pub"),
         "facts": {"hostname": "laptop-1", "os": "Linux"}}
put(er, "begin_rsa_ek.json", json.dumps(begin))
put(er, "begin_p384_ek_chain.json", json.dumps(dict(begin, ek_certificate=b64("ek_p384.der"),
    ek_public=b64("ek_p384.pub"), ek_chain=[b64("ek_p256.der")])))
renew = {k: v for k, v in begin.items() if k != "ek_certificate"}
put(er, "renew_begin.json", json.dumps(renew))
csr = open(os.path.join(data, "tls.csr")).read()
finish = {"session": "ses_0123456789abcdef0123456789abcdef", "secret": base64.b64encode(b"s" * 32).decode(),
          "certify": {"attest": b64("certify_tls.attest"), "signature": b64("certify_tls.sig")},
          "quote": {"attest": b64("quote_e256.msg"), "signature": b64("quote_e256.sig"),
                    "pcr_values": b64("quote_e256.pcrs")}, "csr": csr, "ttl": "8h"}
put(er, "finish.json", json.dumps(finish))
put(er, "renew_software.json", json.dumps({"csr": csr}))
put(er, "finish_partial_evidence.json", json.dumps({"session": finish["session"], "csr": csr}))
put(er, "finish_session_nul.json", '{"session":"ses_0123456789abcdef0123456789abcde\\u0000","csr":"x"}')
put(er, "begin_duplicate_key.json", '{"ek_public":"AA==","ek_public":"AA=="}')
put(er, "begin_bad_base64.json", json.dumps(dict(begin, ak_public="!!!!")))
put(er, "begin_facts_array.json", json.dumps(dict(begin, facts=[1, 2])))
session = {"v": 1, "op": "enroll", "device_id": "dev-abcdefghijklmnopqrstuvwxyz",
           "serial": "", "ek_sha256": "5a" * 32, "pcr_bank": 11, "pcr_mask": 255,
           "ek_cert": b64("ek_rsa.der"), "ek_public": b64("ek_rsa.pub"),
           "ak_public": b64("ak_e256.pub"), "key_public": b64("tls.pub"), "facts": {"h": "x"}}
put(er, "session_enroll.json", json.dumps(session, sort_keys=True))
put(er, "session_renew.json", json.dumps(dict(session, op="renew", serial="0a0b"), sort_keys=True))
put(er, "session_bad_mask.json", json.dumps(dict(session, pcr_mask=1 << 24), sort_keys=True))
put(er, "config_enrollment.json", json.dumps({"trust_domain": "corp.example",
    "enrollment": {"session_ttl": "3s", "device_class": "laptop"}}))
put(er, "config_unknown_member.json", json.dumps({"enrollment": {"session": "5m"}}))
state = {"version": 1, "server": "https://ca.example:8443", "tpm": True,
         "tcti": "device:/dev/tpmrm0", "ek_type": "rsa", "ak_type": "ecc",
         "device_id": "dev-abcdefghijklmnopqrstuvwxyz", "user": "alice", "profile": "agent",
         "uri": "spiffe://corp.example/agent/dev-abcdefghijklmnopqrstuvwxyz/alice",
         "serial": "0a0b0c", "not_before": "2026-11-26T06:00:00Z",
         "not_after": "2026-11-26T14:00:00Z", "attestation": "tpm"}
put(af, "state_tpm.json", json.dumps(state, indent=2))
put(af, "state_software.json", json.dumps(dict(state, tpm=False, tcti="-", ek_type="-", ak_type="-",
                                               attestation="software")))
put(af, "state_unknown_member.json", json.dumps(dict(state, extra=1)))
def der_len(n):
    return bytes([n]) if n < 128 else (bytes([0x81, n]) if n < 256 else bytes([0x82, n >> 8, n & 255]))
def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body
pub = open(os.path.join(data, "tls.pub"), "rb").read()
priv = bytes(range(126))
def key(oid=b"\x67\x81\x05\x0a\x01\x03", auth=b"\xff", parent=b"\x40\x00\x00\x01", extra=b""):
    body = tlv(6, oid) + tlv(0xa0, tlv(1, auth)) + tlv(2, parent) + tlv(4, pub) + tlv(4, priv) + extra
    der = tlv(0x30, body)
    lines = base64.b64encode(der).decode()
    return "-----BEGIN TSS2 PRIVATE KEY-----\n" + "\n".join(lines[i:i + 64] for i in range(0, len(lines), 64)) + "\n-----END TSS2 PRIVATE KEY-----\n"
put(af, "tss2_key.pem", key())
put(af, "tss2_key_empty_auth_false.pem", key(auth=b"\x00"))
put(af, "tss2_key_importable_oid.pem", key(oid=b"\x67\x81\x05\x0a\x01\x04"))
put(af, "tss2_key_parent_persistent.pem", key(parent=b"\x00\x81\x00\x00\x01"))
put(af, "tss2_key_trailing_data.pem", key(extra=b"\x05\x00"))
PY
