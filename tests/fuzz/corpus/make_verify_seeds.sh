#!/usr/bin/env bash
# make_verify_seeds.sh: regenerates the named seeds of tests/fuzz/corpus/verify/ (fuzz_verify.c,
# see corpus/README.md): signatures made by the openssl CLI in the target's input format, and one
# file per way to be wrong.
#
# Run by hand, never by CI: keys are random, so every run rewrites the seeds, and the committed
# ones are the reference. Needs openssl (3.x) and python3 (standard library only). Overwrites the
# descriptively named seeds and leaves the content-hash named ones alone.
#
# usage: tests/fuzz/corpus/make_verify_seeds.sh [CORPUS_DIR]   (default: this script's directory)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}/verify
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
ossl() { openssl "$@" 2>/dev/null; }

printf 'ztca fuzz_verify seed' >"$work/msg"
for h in sha1 sha256 sha384 sha512; do
    ossl dgst -"$h" -binary -out "$work/$h.bin" "$work/msg"
done
key() { # name genpkey-args...
    local name=$1
    shift
    ossl genpkey "$@" -out "$work/$name.pem"
    ossl pkey -in "$work/$name.pem" -pubout -outform DER -out "$work/$name.spki"
}
key p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
key p521 -algorithm EC -pkeyopt ec_paramgen_curve:P-521
key k256 -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1
key bp256 -algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP256r1
key rsa2048 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
key rsa3072e3 -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -pkeyopt rsa_keygen_pubexp:3
key ed25519 -algorithm ED25519
ossl ec -in "$work/p256.pem" -pubout -conv_form compressed -outform DER -out "$work/p256c.spki"
ossl ec -in "$work/p256.pem" -pubout -param_enc explicit -outform DER -out "$work/p256x.spki"

sign() { # out key hash [pkeyutl options...]
    local o=$1 k=$2 h=$3
    shift 3
    ossl pkeyutl -sign -inkey "$work/$k.pem" -in "$work/$h.bin" -out "$work/$o.sig" "$@"
}
sign p256 p256 sha256
sign p256_sha1 p256 sha1
sign p384 p384 sha384
sign p521 p521 sha512
sign k256 k256 sha256
sign bp256 bp256 sha256
sign rsa_pkcs1 rsa2048 sha256 -pkeyopt digest:sha256
sign rsa_pss rsa2048 sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 \
    -pkeyopt digest:sha256
sign rsa_pss0 rsa2048 sha384 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:0 \
    -pkeyopt digest:sha384
sign rsa_e3 rsa3072e3 sha512 -pkeyopt digest:sha512
ossl pkeyutl -sign -rawin -inkey "$work/ed25519.pem" -in "$work/msg" -out "$work/ed25519.sig"

python3 - "$work" "$out" <<'PY'
import sys
work, out = sys.argv[1], sys.argv[2]
ECDSA, PKCS1, PSS = 0, 1, 2
MD = {"sha1": 0, "sha256": 1, "sha384": 2, "sha512": 3}

def rd(name):
    return open(f"{work}/{name}", "rb").read()

def seed(name, scheme, md, spki, sig, hash_=None):
    h = hash_ if hash_ is not None else rd(f"{md}.bin")
    with open(f"{out}/verify_{name}.bin", "wb") as f:
        f.write(bytes([scheme, MD[md]]) + len(spki).to_bytes(2, "big") + spki + h + sig)

def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    return bytes([tag, 0x81, n]) + body

def split(sig):  # r, s contents of a short-form Ecdsa-Sig-Value
    assert sig[0] == 0x30 and sig[1] < 0x80
    i = 2
    assert sig[i] == 0x02
    r = sig[i + 2:i + 2 + sig[i + 1]]
    i += 2 + sig[i + 1]
    s = sig[i + 2:i + 2 + sig[i + 1]]
    return r, s

good = [("ecdsa_p256_sha256", "p256", "p256", "sha256"),
        ("ecdsa_p256_sha1", "p256", "p256_sha1", "sha1"),
        ("ecdsa_p384_sha384", "p384", "p384", "sha384"),
        ("ecdsa_p521_sha512", "p521", "p521", "sha512"),
        ("ecdsa_secp256k1_sha256", "k256", "k256", "sha256"),
        ("ecdsa_brainpoolp256r1_sha256", "bp256", "bp256", "sha256")]
for name, k, s, md in good:
    seed(name, ECDSA, md, rd(f"{k}.spki"), rd(f"{s}.sig"))
seed("rsa2048_pkcs1_sha256", PKCS1, "sha256", rd("rsa2048.spki"), rd("rsa_pkcs1.sig"))
seed("rsa2048_pss_sha256_salt32", PSS, "sha256", rd("rsa2048.spki"), rd("rsa_pss.sig"))
seed("rsa2048_pss_sha384_salt0", PSS, "sha384", rd("rsa2048.spki"), rd("rsa_pss0.sig"))
seed("rsa3072_e3_pkcs1_sha512", PKCS1, "sha512", rd("rsa3072e3.spki"), rd("rsa_e3.sig"))

# Named negatives: each must fail on both backends.
spki, sig = rd("p256.spki"), rd("p256.sig")
r, s = split(sig)
seed("ecdsa_flipped_bit", ECDSA, "sha256", spki, sig[:-3] + bytes([sig[-3] ^ 4]) + sig[-2:])
seed("ecdsa_truncated", ECDSA, "sha256", spki, sig[:-1])
seed("ecdsa_trailing_byte", ECDSA, "sha256", spki, sig + b"\x00")
seed("ecdsa_non_minimal_length_81", ECDSA, "sha256", spki,
     b"\x30\x81" + bytes([sig[1]]) + sig[2:])
seed("ecdsa_padded_r", ECDSA, "sha256", spki,
     tlv(0x30, tlv(0x02, b"\x00" + r) + tlv(0x02, s)))
seed("ecdsa_negative_r", ECDSA, "sha256", spki,
     tlv(0x30, tlv(0x02, bytes([r[-32] | 0x80]) + r[-31:]) + tlv(0x02, s)))
seed("ecdsa_swapped_r_s", ECDSA, "sha256", spki, tlv(0x30, tlv(0x02, s) + tlv(0x02, r)))
seed("ecdsa_wrong_tag_set", ECDSA, "sha256", spki, b"\x31" + sig[1:])
seed("ecdsa_wrong_key", ECDSA, "sha256", rd("k256.spki"), sig)
seed("ecdsa_wrong_hash", ECDSA, "sha384", spki, sig)
seed("ecdsa_compressed_point", ECDSA, "sha256", rd("p256c.spki"), sig)
seed("ecdsa_explicit_curve", ECDSA, "sha256", rd("p256x.spki"), sig)
seed("ecdsa_point_off_curve", ECDSA, "sha256", spki[:-1] + bytes([spki[-1] ^ 1]), sig)
seed("ecdsa_spki_trailing_byte", ECDSA, "sha256", spki + b"\x00", sig)
seed("ecdsa_with_rsa_key", ECDSA, "sha256", rd("rsa2048.spki"), sig)
seed("ed25519_key", ECDSA, "sha256", rd("ed25519.spki"), rd("ed25519.sig"))
rsa, pss = rd("rsa2048.spki"), rd("rsa_pss.sig")
seed("rsa_pss_as_pkcs1", PKCS1, "sha256", rsa, pss)
seed("rsa_pkcs1_as_pss", PSS, "sha256", rsa, rd("rsa_pkcs1.sig"))
seed("rsa_short_signature", PKCS1, "sha256", rsa, rd("rsa_pkcs1.sig")[1:])
seed("rsa_long_signature", PKCS1, "sha256", rsa, b"\x00" + rd("rsa_pkcs1.sig"))
seed("rsa_with_ec_key", PKCS1, "sha256", spki, rd("rsa_pkcs1.sig"))
PY
echo "wrote $(ls "$out"/verify_*.bin | wc -l) seeds to $out"
