#!/usr/bin/env bash
# Regenerates the committed test vectors in tests/data with the openssl CLI (an independent
# implementation) and python3. Run by hand when a vector needs to change; CI does not run it.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

csr() { # name keyfile [extra req args]
    local name=$1 key=$2
    shift 2
    openssl req -new -key "$key" -subj "/CN=ignored-by-ztca/O=Evil Corp" "$@" -outform DER \
        -out "csr_$name.der"
}

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/p256.key"
openssl ecparam -name secp384r1 -genkey -noout -out "$tmp/p384.key"
openssl ecparam -name secp521r1 -genkey -noout -out "$tmp/p521.key"
openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/k256.key"
openssl genpkey -algorithm ed25519 -out "$tmp/ed25519.key"
openssl genrsa -out "$tmp/rsa1024.key" 1024 2>/dev/null
openssl genrsa -out "$tmp/rsa2048.key" 2048 2>/dev/null
openssl genrsa -out "$tmp/rsa4096.key" 4096 2>/dev/null
openssl genrsa -out "$tmp/rsa8192.key" 8192 2>/dev/null

csr p256 "$tmp/p256.key"
csr p384 "$tmp/p384.key" -sha384
csr p521 "$tmp/p521.key"
csr secp256k1 "$tmp/k256.key"
csr ed25519 "$tmp/ed25519.key"
csr rsa1024 "$tmp/rsa1024.key"
csr rsa2048 "$tmp/rsa2048.key"
csr rsa4096 "$tmp/rsa4096.key" -sha512
csr rsa8192 "$tmp/rsa8192.key"
csr rsa2048_pss "$tmp/rsa2048.key" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
csr p256_sha1 "$tmp/p256.key" -sha1
# A request whose signature was made by another key: no proof of possession.
python3 - "$tmp" <<'PY'
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
tmp = sys.argv[1]
good = x509.load_der_x509_csr(open("csr_p256.der", "rb").read())
der = bytearray(good.public_bytes(serialization.Encoding.DER))
der[-5] ^= 0x01  # inside the ECDSA signature's s value
open("csr_p256_badsig.der", "wb").write(bytes(der))
PY
openssl req -in csr_p256.der -inform DER -out csr_p256.pem
cat csr_p256.pem csr_p256.pem > csr_two_blocks.pem
cp csr_p256.der csr_p256_trailing.der && printf '\x00' >> csr_p256_trailing.der

# ztca's key files from another implementation: PKCS#8 plain, PKCS#8 encrypted (PBES2 with
# PBKDF2-HMAC-SHA256 and AES-256-CBC, a low iteration count to keep tests fast), SEC1.
openssl pkcs8 -topk8 -nocrypt -in "$tmp/p256.key" -out key_p256_pkcs8.pem
openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 2048 -passout pass:correct-horse \
    -in "$tmp/p384.key" -out key_p384_pkcs8_aes256.pem
openssl pkcs8 -topk8 -v2 aes-128-cbc -v2prf hmacWithSHA1 -iter 1000 -passout pass:correct-horse \
    -in "$tmp/p256.key" -out key_p256_pkcs8_aes128_sha1.pem
openssl ec -in "$tmp/p384.key" -out key_p384_sec1.pem 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$tmp/rsa2048.key" -out key_rsa2048_pkcs8.pem
openssl pkcs8 -topk8 -nocrypt -in "$tmp/p521.key" -out key_p521_pkcs8.pem
# The public keys of both encrypted-key vectors, to compare after decryption.
openssl pkey -in "$tmp/p384.key" -pubout -outform DER -out key_p384_spki.der
openssl pkey -in "$tmp/p256.key" -pubout -outform DER -out key_p256_spki.der

# Device id vector computed by python, independently of ztca: dev- + base32(SHA-256(SPKI))[:26].
python3 - >device_id_p256.txt <<'PY'
import base64, hashlib
spki = open("key_p256_spki.der", "rb").read()
print("dev-" + base64.b32encode(hashlib.sha256(spki).digest()).decode().lower()[:26])
PY

# Not regenerated: key_p256_mismatched_pub.pem and key_p256_scalar_changed.pem are inputs found
# by tests/fuzz/fuzz_key.c (a key whose public point is not its private scalar's), kept as they
# were found.
