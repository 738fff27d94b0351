#!/bin/sh
# make_attest_seeds.sh: regenerates the attest seeds of tests/fuzz/corpus/attest_*/ and the unit
# test vectors of tests/data/attest/ from a real software TPM (swtpm + tpm2-tools), with the same
# fixtures as tests/integration/test_attest.sh (tests/integration/attest_fixtures.sh).
#
# Run by hand, never by CI: every run makes a new TPM (new EKs, AKs, local CA), so all files
# change, and tests/unit/test_attest.c reads them as one consistent set. Seeds are named after
# what they are; content-hash named seeds (found by fuzzing) are left alone.
#
# usage: tests/fuzz/corpus/make_attest_seeds.sh BUILD_DIR
#   BUILD_DIR holds tests/integration/attest_tpm_certify (built with the tests).
#        tests/fuzz/corpus/make_attest_seeds.sh --derive-only
#   only rewrites the seeds derived from the committed swtpm seeds (one per way to be wrong).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
c=$here

# derive SRC DST OFFSET HEXBYTES: a copy of a seed with bytes overwritten at OFFSET.
derive() {
    cp "$c/$1" "$c/$2"
    printf '%s' "$4" | xxd -r -p | dd of="$c/$2" bs=1 seek="$3" conv=notrunc 2>/dev/null
}
derive_seeds() {
    a=attest_attest
    derive $a/swtpm_quote_e256.bin $a/quote_extradata_oversized.bin 42 0041
    derive $a/swtpm_quote_e256.bin $a/quote_bad_magic.bin 0 00
    derive $a/swtpm_quote_e256.bin $a/quote_pcr_banks_17.bin 101 00000011
    derive $a/swtpm_quote_e256.bin $a/quote_sizeofselect_5.bin 107 05
    derive $a/swtpm_quote_e256.bin $a/quote_type_unknown.bin 4 8099
    head -c 100 "$c/$a/swtpm_quote_e256.bin" >"$c/$a/quote_truncated.bin"
    { cat "$c/$a/swtpm_quote_e256.bin"; printf '\000'; } >"$c/$a/quote_trailing_byte.bin"
    derive $a/swtpm_tpm2b_quote_e256.bin $a/tpm2b_quote_size_short.bin 0 0090
    k=attest_ak_public
    derive $k/swtpm_ak_e256.bin $k/ak_outer_size_short.bin 0 0057
    derive $k/swtpm_ak_e256.bin $k/ak_x_oversized.bin 22 0081
    derive $k/swtpm_ak_e256.bin $k/ak_x_33_bytes.bin 22 0021
    derive $k/swtpm_ak_e256.bin $k/ak_type_keyedhash.bin 2 0008
    derive $k/swtpm_ak_e256.bin $k/ak_curve_p521.bin 18 0005
    derive $k/swtpm_ak_rsa.bin $k/ak_rsa_keybits_1024.bin 18 0400
    e=attest_ek_public
    derive $e/swtpm_ek_rsa.bin $e/ek_sym_cbc.bin 48 0042
    derive $e/swtpm_ek_p384.bin $e/ek_name_alg_sm3.bin 4 0012
    s=attest_signature
    derive $s/swtpm_quote_e256.bin $s/sig_ecdsa_r_oversized.bin 4 0081
    derive $s/swtpm_quote_e256.bin $s/sig_ecdaa.bin 0 001a
    derive $s/swtpm_quote_e256.bin $s/sig_ecdsa_sha1.bin 2 0004
    derive $s/swtpm_quote_rsa.bin $s/sig_rsa_size_513.bin 4 0201
    printf '\000\020' >"$c/$s/sig_null.bin"
    chmod 0644 "$c"/attest_*/*
}
if [ "${1:-}" = --derive-only ]; then
    derive_seeds
    exit 0
fi

build=${1:?usage: make_attest_seeds.sh BUILD_DIR}
AF_CERTIFY_BIN=$build/tests/integration/attest_tpm_certify
[ -x "$AF_CERTIFY_BIN" ] || {
    echo "no $AF_CERTIFY_BIN: build the tests first" >&2
    exit 1
}
. "$src/tests/integration/attest_fixtures.sh"
af_have_tools || {
    echo "missing $AF_MISSING" >&2
    exit 1
}
AF=$(mktemp -d /tmp/ztca-seeds.XXXXXX)
trap 'af_stop; rm -rf "$AF"' EXIT
af_init
af_manufacture
af_start
af_evidence
af_stop
E=$AF/ev

# ---- unit test vectors: one consistent set from one TPM ------------------------------------
data=$src/tests/data/attest
mkdir -p "$data"
rm -f "$data"/*
for f in ek_rsa.der ek_rsa.pub ek_p256.der ek_p256.pub ek_p384.der ek_p384.pub \
    ek_p384_untrusted.der srk.pub tls.pub exp.pub tls.csr other.csr \
    certify_tls.attest certify_tls.sig certify_exp.attest certify_exp.sig \
    certify_srk.attest certify_srk.sig; do
    cp "$E/$f" "$data/$f"
done
for k in rsa pss e256 e384; do
    for x in pub name; do cp "$E/ak_$k.$x" "$data/ak_$k.$x"; done
    for x in msg sig pcrs; do cp "$E/quote_$k.$x" "$data/quote_$k.$x"; done
done
cp "$E/roots/localca.pem" "$data/localca.pem"
cp "$E/roots/untrusted.pem" "$data/untrusted.pem"
xxd -r -p "$E/nonce.hex" >"$data/nonce.bin"

# ---- fuzz seeds ------------------------------------------------------------------------------
mkdir -p "$c/attest_ek_public" "$c/attest_ak_public" "$c/attest_attest" "$c/attest_signature"
for e in rsa p256 p384; do cp "$E/ek_$e.pub" "$c/attest_ek_public/swtpm_ek_$e.bin"; done
for k in rsa pss e256 e384; do
    cp "$E/ak_$k.pub" "$c/attest_ak_public/swtpm_ak_$k.bin"
    cp "$E/quote_$k.msg" "$c/attest_attest/swtpm_quote_$k.bin"
    cp "$E/quote_$k.sig" "$c/attest_signature/swtpm_quote_$k.bin"
done
for k in tls exp srk; do cp "$E/$k.pub" "$c/attest_ak_public/swtpm_key_$k.bin"; done
cp "$E/certify_tls.attest" "$c/attest_attest/swtpm_certify_tls.bin"
cp "$E/certify_tls.sig" "$c/attest_signature/swtpm_certify_ecdsa.bin"
# TPM2B_ATTEST (what ESAPI returns): the size, then the TPMS_ATTEST.
tpm2b() {
    n=$(stat -c %s "$1")
    printf "$(printf '\\%03o\\%03o' $((n >> 8)) $((n & 255)))" >"$2"
    cat "$1" >>"$2"
}
tpm2b "$E/quote_e256.msg" "$c/attest_attest/swtpm_tpm2b_quote_e256.bin"
tpm2b "$E/certify_tls.attest" "$c/attest_attest/swtpm_tpm2b_certify_tls.bin"
derive_seeds
chmod 0644 "$data"/* "$c"/attest_*/*
echo "wrote $data and $c/attest_*"
