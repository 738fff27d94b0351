#!/usr/bin/env bash
# Regenerates the OCSP request vectors of tests/unit/test_ca_ocsp.c with independent
# implementations: the openssl CLI (`openssl ocsp -reqout`) and python3-cryptography
# (OCSPRequestBuilder, for nonces of a chosen value and length). Run by hand when a vector needs
# to change; CI does not run it. Keys are random, so every run rewrites every file.
#
# Files:
#   issuer.der            a P-256 CA certificate made by openssl (the CertIDs' issuer)
#   issuer2.der           a second CA with the same subject Name but another key
#   leaf{1,2,3}.der       leaves of issuer.der with fixed serials: 0x0102...10 (16 octets),
#                         0x8899... (16 octets, top bit set: DER adds a 00 octet), and 0x05
#   req_*.der             the requests: SHA-1 and SHA-256 CertIDs, with and without openssl's
#                         random nonce, three CertIDs in one request, a signed request (with
#                         requestorName and certs), python-made nonces of a chosen value and of
#                         1, 32 and 33 octets, and a SHA-512 CertID; test_ca_ocsp.c lists what it
#                         expects of each
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ossl() { openssl "$@" 2>/dev/null; }

ossl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key"
ossl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca2.key"
ossl ecparam -name prime256v1 -genkey -noout -out "$tmp/leaf.key"
ossl req -x509 -new -key "$tmp/ca.key" -subj "/O=ocsp.example/CN=OCSP Test CA" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$tmp/ca.pem"
ossl req -x509 -new -key "$tmp/ca2.key" -subj "/O=ocsp.example/CN=OCSP Test CA" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$tmp/ca2.pem"
ossl req -new -key "$tmp/leaf.key" -subj "/CN=leaf" -out "$tmp/leaf.csr"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$tmp/leaf.ext"
leaf() { # n serial
    ossl x509 -req -in "$tmp/leaf.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -days 30 \
        -set_serial "$2" -extfile "$tmp/leaf.ext" -out "$tmp/leaf$1.pem"
    ossl x509 -in "$tmp/leaf$1.pem" -outform DER -out "leaf$1.der"
}
leaf 1 0x0102030405060708090a0b0c0d0e0f10
leaf 2 0x8899aabbccddeeff0011223344556677
leaf 3 5
ossl x509 -in "$tmp/ca.pem" -outform DER -out issuer.der
ossl x509 -in "$tmp/ca2.pem" -outform DER -out issuer2.der

req() { # name [openssl ocsp options]
    local name=$1
    shift
    ossl ocsp -issuer "$tmp/ca.pem" "$@" -reqout "req_$name.der"
}
req sha1_nonce -cert "$tmp/leaf1.pem"
req sha1_no_nonce -no_nonce -cert "$tmp/leaf1.pem"
req sha256_nonce -sha256 -cert "$tmp/leaf1.pem"
req sha256_no_nonce -sha256 -no_nonce -cert "$tmp/leaf2.pem"
req multi_nonce -cert "$tmp/leaf1.pem" -cert "$tmp/leaf2.pem" -cert "$tmp/leaf3.pem"
req multi_sha256_no_nonce -sha256 -no_nonce -cert "$tmp/leaf1.pem" -cert "$tmp/leaf2.pem" \
    -cert "$tmp/leaf3.pem"
# A signed request (RFC 6960 4.1.2) with the signer's certificate in `certs`: ztca ignores the
# signature (RFC 5019 2.1.2).
req signed -cert "$tmp/leaf1.pem" -signer "$tmp/leaf1.pem" -signkey "$tmp/leaf.key" \
    -sign_other "$tmp/ca.pem"

# python3-cryptography: a chosen nonce, the shortest and longest RFC 8954 allows, a SHA-512
# CertID (parsed, marked unsupported), and a 33-octet nonce if the library writes one.
/usr/bin/python3 - "$tmp" <<'PY'
import sys
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.hazmat.primitives import hashes, serialization
tmp = sys.argv[1]
ca = x509.load_pem_x509_certificate(open(tmp + "/ca.pem", "rb").read())
leaf = x509.load_pem_x509_certificate(open(tmp + "/leaf1.pem", "rb").read())
def write(name, nonce, algo=hashes.SHA1()):
    b = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca, algo)
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    open("req_%s.der" % name, "wb").write(b.build().public_bytes(serialization.Encoding.DER))
write("py_nonce_chosen", b"ztca-ocsp-test-nonce")
write("py_nonce_1", b"\x01")
write("py_nonce_32", bytes(range(32)))
write("py_nonce_33", bytes(range(33)))
write("py_sha512", None, hashes.SHA512())
PY
