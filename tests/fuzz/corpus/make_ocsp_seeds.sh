#!/usr/bin/env bash
# make_ocsp_seeds.sh: regenerates the named seeds of tests/fuzz/corpus/ocsp_req/, ocsp_resp/ and
# crl/ (see corpus/README.md).
#
# Run by hand, never by CI: keys are random, so every run rewrites the openssl-made requests, and
# the committed seeds are the reference. Needs openssl (3.x) and python3 (standard library only).
# Overwrites the descriptively named seeds and leaves the content-hash named ones alone.
#
# usage: tests/fuzz/corpus/make_ocsp_seeds.sh [CORPUS_DIR]   (default: this script's directory)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"/{ocsp_req,ocsp_resp,crl}
ossl() { openssl "$@" 2>/dev/null; }

# ---- ocsp_req: ca_ocsp_req_parse ---------------------------------------------------------------
ossl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
ossl req -x509 -new -key "$work/ca.key" -subj "/O=example.org/CN=Seed CA" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -out "$work/ca.pem"
ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=leaf \
    -keyout "$work/leaf.key" -out "$work/leaf.csr"
ossl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -days 30 \
    -set_serial 0x0102030405060708090a0b0c0d0e0f10 -out "$work/leaf.pem"
r() { # name [openssl ocsp options]
    local name=$1
    shift
    ossl ocsp -issuer "$work/ca.pem" "$@" -reqout "$out/ocsp_req/$name.der"
}
r openssl_sha1_nonce -cert "$work/leaf.pem"
r openssl_sha1_no_nonce -no_nonce -cert "$work/leaf.pem"
r openssl_sha256_nonce -sha256 -cert "$work/leaf.pem"
r openssl_serials_3 -serial 1 -serial 0x80 -serial 0x7fffffffffffffffffffffffffffffffffffffff
r openssl_signed -cert "$work/leaf.pem" -signer "$work/leaf.pem" -signkey "$work/leaf.key" \
    -sign_other "$work/ca.pem"
serials=()
for i in $(seq 1 33); do serials+=(-serial "$i"); done
r openssl_serials_33 -no_nonce "${serials[@]}"
r openssl_serials_32 -no_nonce "${serials[@]:0:64}"

# Byte surgery on an openssl request, one defect per file, with a small DER walker.
python3 - "$out/ocsp_req" <<'PY'
import sys
d = sys.argv[1]
base = open(d + "/openssl_sha1_nonce.der", "rb").read()

def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        hdr = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        hdr = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + hdr + body

def read(buf, i=0):
    tag, n = buf[i], buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    return tag, buf[i:i + n], i + n

def elements(body):
    out, i = [], 0
    while i < len(body):
        tag, content, j = read(body, i)
        out.append((tag, content, body[i:j]))
        i = j
    return out

_, req, _ = read(base)
tbs_tag, tbs, _ = read(req)
parts = elements(tbs)                          # requestList, [2] extensions
req_list = parts[0][2]
certid_req = elements(parts[0][1])[0][1]      # Request contents: CertID
certid = elements(certid_req)[0]
nonce_oid = bytes.fromhex("06092b0601050507300102")
unknown_oid = bytes.fromhex("06092b0601040182371507")

def request(tbs_body, extra=b""):
    return tlv(0x30, tlv(0x30, tbs_body) + extra)

def exts(*e):
    return tlv(0xa2, tlv(0x30, b"".join(e)))

def ext(oid, value, critical=None):
    return tlv(0x30, oid + (tlv(0x01, b"\xff" if critical else b"\x00") if critical is not None
                            else b"") + tlv(0x04, value))

def nonce(n):
    return ext(nonce_oid, tlv(0x04, bytes(range(n))))

def w(name, data):
    open("%s/%s.der" % (d, name), "wb").write(data)

w("nonce_1", request(req_list + exts(nonce(1))))
w("nonce_32", request(req_list + exts(nonce(32))))
w("nonce_0", request(req_list + exts(nonce(0))))
w("nonce_33", request(req_list + exts(nonce(33))))
w("nonce_unwrapped", request(req_list + exts(ext(nonce_oid, b"abc"))))
w("nonce_twice", request(req_list + exts(nonce(8), nonce(8))))
w("nonce_critical", request(req_list + exts(ext(nonce_oid, tlv(0x04, b"n"), True))))
w("critical_false_encoded", request(req_list + exts(ext(nonce_oid, tlv(0x04, b"n"), False))))
w("unknown_ext_noncritical", request(req_list + exts(nonce(16), ext(unknown_oid, b"\x05\x00"))))
w("unknown_ext_critical", request(req_list + exts(ext(unknown_oid, b"\x05\x00", True))))
w("extensions_empty", request(req_list + tlv(0xa2, tlv(0x30, b""))))
w("single_ext_critical", request(tlv(0x30, tlv(0x30, certid[2] + tlv(0xa0, tlv(0x30,
    ext(unknown_oid, b"\x05\x00", True)))))))
w("single_ext_noncritical", request(tlv(0x30, tlv(0x30, certid[2] + tlv(0xa0, tlv(0x30,
    ext(unknown_oid, b"\x05\x00")))))))
w("version_v1_explicit", request(tlv(0xa0, tlv(0x02, b"\x00")) + req_list))
w("version_v2", request(tlv(0xa0, tlv(0x02, b"\x01")) + req_list))
w("requestor_name", request(tlv(0xa1, tlv(0xa4, tlv(0x30, b""))) + req_list))
w("request_list_empty", request(tlv(0x30, b"")))
w("trailing_outer", base + b"\x00")
w("trailing_tbs", request(tbs + b"\x05\x00"))
w("trailing_certid", request(tlv(0x30, tlv(0x30, tlv(0x30, certid[1] + b"\x05\x00")))))
w("truncated", base[:-1])
w("indefinite_outer", b"\x30\x80" + req + b"\x00\x00")
w("non_minimal_outer", b"\x30\x81" + bytes([len(req)]) + req if len(req) < 128 else base)
w("serial_negative", request(tlv(0x30, tlv(0x30, tlv(0x30, certid[1][:-18] + tlv(0x02,
    b"\x80" + bytes(15)))))))
w("serial_21_octets", request(tlv(0x30, tlv(0x30, tlv(0x30, certid[1][:-18] + tlv(0x02,
    b"\x01" * 21))))))
w("hash_length_19", request(tlv(0x30, tlv(0x30, tlv(0x30, certid[1][:11] + tlv(0x04,
    b"\x11" * 19) + certid[1][33:])))))
w("signature_trailing", request(tbs, tlv(0xa0, tlv(0x30, tlv(0x30, bytes.fromhex(
    "06082a8648ce3d040302")) + tlv(0x03, b"\x00\x01") + b"\x05\x00"))))
PY

# ---- ocsp_resp: ca_ocsp_resp_build round trip (input format: tests/fuzz/fuzz_ocsp_resp.c) -------
python3 - "$out/ocsp_resp" <<'PY'
import struct, sys
d = sys.argv[1]
def hdr(flags=1, nonce=b"", produced=0):
    return bytes([flags, len(nonce)]) + struct.pack(">i", produced) + nonce
def entry(status=0, reason=1, score=50, kind=0, serial_len=16, first=0x11, this=0, nxt=3600,
          rev=-10):
    return (bytes([status, reason, score, kind, serial_len, first]) + struct.pack(">i", this)
            + struct.pack(">i", nxt)[1:] + struct.pack(">i", rev)[1:])
def w(name, data):
    open("%s/%s.bin" % (d, name), "wb").write(data)
w("good_one", hdr() + entry())
w("good_revoked_unknown_nonce16", hdr(nonce=bytes(range(16))) + entry()
  + entry(status=1, reason=1) + entry(status=2, score=0xff))
w("entries_32", hdr() + b"".join(entry(first=i + 1) for i in range(32)))
w("entries_33", hdr() + b"".join(entry(first=i + 1) for i in range(33)))
for r in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11):
    w("revoked_reason_%d" % r, hdr() + entry(status=1, reason=r))
w("score_none", hdr() + entry(score=0xff))
w("score_100", hdr() + entry(score=100))
w("score_101", hdr() + entry(score=101))
w("sha256_certid", hdr() + entry(kind=1))
w("sha512_certid", hdr() + entry(kind=2))
w("certid_trailing", hdr() + entry(kind=3))
w("serial_negative", hdr() + entry(first=0x80))
w("serial_21", hdr() + entry(serial_len=21))
w("serial_padded", hdr() + entry(serial_len=2, first=0))
w("nonce_1", hdr(nonce=b"\x01") + entry())
w("nonce_32", hdr(nonce=bytes(range(32))) + entry())
w("nonce_33", hdr(nonce=bytes(range(33))) + entry())
w("ca_signer_no_certs", hdr(flags=2) + entry())
w("ca_signer_with_ocsp_cert", hdr(flags=3) + entry())
w("next_update_equal", hdr() + entry(nxt=0))
w("year_2050", hdr() + entry(this=(2524608000 - 1795000000) // 128))
w("year_1900", hdr() + entry(this=(-2208988800 - 1795000000) // 128))
w("year_10000", hdr() + entry(this=(253402300800 - 1795000000) // 128 + 1))
w("status_3", hdr() + entry(status=3))
PY

# ---- crl: ca_crl_build round trip (input format: tests/fuzz/fuzz_crl.c) --------------------------
python3 - "$out/crl" <<'PY'
import struct, sys
d = sys.argv[1]
def hdr(number=1, this=0, nxt=86400):
    return struct.pack(">Q", number) + struct.pack(">i", this) + struct.pack(">i", nxt)[1:]
def entry(serial_len=16, reason=1, rev=-100, inv=0, inc=1):
    return bytes([serial_len, reason]) + struct.pack(">i", rev) + bytes([inv, inc])
def w(name, data):
    open("%s/%s.bin" % (d, name), "wb").write(data)
w("empty", hdr())
w("three_entries", hdr(number=42) + entry(reason=0) + entry(reason=1, inv=3) + entry(reason=6))
w("every_reason", hdr() + b"".join(entry(reason=r, inc=7) for r in (0, 1, 2, 3, 4, 5, 6, 9, 10)))
w("reason_7", hdr() + entry(reason=7))
w("reason_remove_from_crl", hdr() + entry(reason=8))
w("duplicate_serial", hdr() + entry() + entry(inc=0))
w("serial_20_octets", hdr() + entry(serial_len=20 | 0x80, inc=0x7e))
w("serial_20_octets_top_bit", hdr() + entry(serial_len=20 | 0x80, inc=0x80))
w("serial_21_octets", hdr() + entry(serial_len=21 | 0x80, inc=0x10))
w("serial_leading_zeros", hdr() + entry(serial_len=21, inc=5))
w("serial_empty", hdr() + entry(serial_len=0))
w("short_then_long", hdr() + entry(serial_len=1, inc=255) + entry(serial_len=2, inc=1))
w("number_max", hdr(number=2**64 - 1) + entry())
w("year_2050", hdr(this=(2524608000 - 1795000000) // 128) + entry(rev=(2524608000 - 1795000000) // 128))
w("year_1949", hdr(this=(-631152001 - 1795000000) // 128) + entry(rev=(-631152001 - 1795000000) // 128))
w("next_update_before", hdr(nxt=-1) + entry())
w("entries_300", hdr() + b"".join(entry(reason=(0, 1, 4, 6, 9, 10)[i % 6], inv=i % 2, inc=3)
                                  for i in range(300)))
PY
n() { find "$out/$1" -type f | wc -l; }
echo "seeds: $(n ocsp_req) ocsp_req, $(n ocsp_resp) ocsp_resp, $(n crl) crl (named and found)"
