#!/bin/sh
# test_attest.sh: attest/ against a real software TPM (issue 6). swtpm + tpm2-tools produce the
# evidence at test time (attest_fixtures.sh); attest_check runs our verifiers on it; the TPM
# itself is the oracle for MakeCredential (tpm2_activatecredential) and openssl for the
# certificates and CSRs we make to exercise the EK chain checks.
#
# Proves: EK certificates (RSA-2048, P-384 from swtpm_setup, a provisioned P-256) chain to the
# local CA and match their TPM2B_PUBLIC; Names equal tpm2-tools'; a credential made by OUR
# MakeCredential is recovered by the TPM for every EK kind (from the certificate and from the
# TPM2B_PUBLIC), and one made for another AK is refused by the TPM; quotes (RSASSA, RSAPSS,
# ECDSA P-256, ECDSA P-384) and a nonce-bound certify of a non-exportable key whose CSR came
# from tpm2-openssl verify; the PCR policy passes, records a baseline and flags a real PCR
# extend; and every negative is refused with its own reason.
#
# Env (from ctest): ZTCA_BUILD_DIR, ZTCA_SOURCE_DIR. Exit 77 (skip) without swtpm/tpm2-tools,
# except with ZTCA_CI=1, where that is a failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${ZTCA_BUILD_DIR:-$HERE/../../build}
CHECK=$BUILD/tests/integration/attest_check
AF_CERTIFY_BIN=$BUILD/tests/integration/attest_tpm_certify
T_START=$(date +%s%N)

skip() {
    if [ "${ZTCA_CI:-}" = 1 ]; then
        echo "FAIL: $* (ZTCA_CI=1: a missing dependency is a failure)"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}

. "$HERE/attest_fixtures.sh"
af_have_tools || skip "$AF_MISSING not installed (apt-get install swtpm swtpm-tools tpm2-tools tpm2-openssl)"
[ -x "$CHECK" ] || {
    echo "FAIL: $CHECK not built"
    exit 1
}
[ -x "$AF_CERTIFY_BIN" ] || skip "attest_tpm_certify not built (libtss2-dev with tss2-esys)"

AF=$(mktemp -d /tmp/ztca-attest.XXXXXX)
cleanup() {
    af_stop
    if [ -n "${ZTCA_KEEP:-}" ]; then
        echo "kept $AF"
    else
        rm -rf "$AF"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# Sanitizer reports (ASan, LeakSanitizer, UBSan) go to files, checked before the summary: here a
# driver's stderr is part of its output and its exit status is not the verdict, so a report
# written at exit (a leak) went unseen (lib.sh's lib_harness, which this POSIX sh script cannot
# source, does the same).
SAN=$AF/sanitizer
mkdir "$SAN"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SAN/report"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$SAN/report"

PASS=0
FAIL=0
TIMINGS=""
ok() {
    PASS=$((PASS + 1))
}
bad() {
    FAIL=$((FAIL + 1))
    echo "FAIL: $*"
}

# run NAME CMD...: the driver's output in $OUT, its first line in $FIRST.
run() {
    local name=$1 us
    shift
    OUT=$("$CHECK" "$@" 2>&1)
    FIRST=$(printf '%s\n' "$OUT" | head -n 1)
    us=$(printf '%s\n' "$OUT" | sed -n 's/^us=//p' | head -n 1)
    TIMINGS="$TIMINGS $name=${us:-?}us"
}
expect_ok() { # expect_ok NAME CMD...
    local n=$1
    run "$@"
    if [ "$FIRST" = ok ]; then ok; else bad "$n: expected ok, got: $(echo $OUT)"; fi
}
expect_reason() { # expect_reason NAME REASON CMD...
    local n=$1 r=$2
    shift 2
    run "$n" "$@"
    if [ "$FIRST" = "reason=$r" ]; then ok; else bad "$n: expected reason=$r, got: $(echo $OUT)"; fi
}
field() { # field KEY: a key=value line of the last run
    printf '%s\n' "$OUT" | sed -n "s/^$1=//p" | head -n 1
}
flip() { # flip IN OUT OFFSET: copy with one byte inverted
    local b
    cp "$1" "$2"
    b=$(od -An -tu1 -j "$3" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$2" bs=1 seek="$3" conv=notrunc 2>/dev/null
}
poke16() { # poke16 FILE OFFSET HEX4: overwrite a big-endian UINT16
    printf "$(printf '\\%03o\\%03o' $((0x$3 >> 8)) $((0x$3 & 255)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
ms_since() {
    echo $((($(date +%s%N) - $1) / 1000000))
}

# ---- fixtures ----------------------------------------------------------------------------
af_init
t=$(date +%s%N)
# The manufactured TPM is cached in the build directory, keyed by the swtpm version;
# ZTCA_ATTEST_FRESH_TPM=1 runs swtpm_setup every time.
CACHE=""
if [ -z "${ZTCA_ATTEST_FRESH_TPM:-}" ] && [ -d "$BUILD" ] && [ -w "$BUILD" ]; then
    CACHE="$BUILD/attest-tpm-$(swtpm --version 2>&1 | cksum | cut -d' ' -f1)"
fi
af_manufacture_cached "$CACHE" || {
    echo "FAIL: swtpm_setup"
    exit 1
}
af_start || {
    echo "FAIL: swtpm start"
    exit 1
}
af_evidence || {
    echo "FAIL: producing evidence with tpm2-tools"
    exit 1
}
how="made by swtpm_setup"
[ -z "$AF_CLONED" ] || how="cloned from $AF_CLONED"
echo "fixtures: $(ms_since "$t") ms (TPM $how; P-256 EK provisioning, 4 AKs, 4 quotes, 3 certify, CSRs)"
E=$AF/ev
W=$AF/work
mkdir -p "$W"
N=$(cat "$E/nonce.hex")
ROOTS="--roots $E/roots/localca.pem"

# ---- Names and AK policy ------------------------------------------------------------------
for k in rsa pss e256 e384; do
    expect_ok "name_$k" name --pub "$E/ak_$k.pub"
    want=$(xxd -p -c 256 "$E/ak_$k.name")
    [ "$(field name)" = "$want" ] && ok || bad "name_$k: $(field name) != tpm2-tools $want"
    expect_ok "ak_$k" ak --pub "$E/ak_$k.pub"
done
expect_reason ak_tls_key ak_not_restricted ak --pub "$E/tls.pub"
expect_reason ak_storage_key ak_decrypt ak --pub "$E/srk.pub"
expect_reason ak_exportable ak_not_fixed ak --pub "$E/exp.pub"
head -c 60 "$E/ak_e256.pub" >"$W/ak_trunc.pub"
expect_reason ak_truncated truncated ak --pub "$W/ak_trunc.pub"
cp "$E/ak_e256.pub" "$W/ak_trail.pub"
printf '\000' >>"$W/ak_trail.pub"
expect_reason ak_trailing trailing_data ak --pub "$W/ak_trail.pub"
# unique.ecc.x.size (offset 2+2+2+4+2+2+2+2+2+2 = 22) from 32 to 0x81, above the 128-byte
# TPM2B_ECC_PARAMETER: oversized.
cp "$E/ak_e256.pub" "$W/ak_over.pub"
poke16 "$W/ak_over.pub" 22 0081
expect_reason ak_oversized oversized ak --pub "$W/ak_over.pub"

# ---- EK certificates -----------------------------------------------------------------------
for e in rsa p256 p384; do
    expect_ok "ek_$e" ek $ROOTS --cert "$E/ek_$e.der" --pub "$E/ek_$e.pub"
    expect_ok "ek_${e}_cert_only" ek $ROOTS --cert "$E/ek_$e.der"
done
expect_reason ek_untrusted_ca ek_cert_untrusted ek $ROOTS --cert "$E/ek_p384_untrusted.der" \
    --pub "$E/ek_p384.pub"
expect_ok ek_other_roots_trusted ek --roots "$E/roots/untrusted.pem" \
    --cert "$E/ek_p384_untrusted.der" --pub "$E/ek_p384.pub"
expect_reason ek_pub_other_key ek_pub_mismatch ek $ROOTS --cert "$E/ek_p256.der" \
    --pub "$E/ek_p384.pub"
flip "$E/ek_rsa.pub" "$W/ek_rsa_flip.pub" 200
expect_reason ek_pub_tampered ek_pub_mismatch ek $ROOTS --cert "$E/ek_rsa.der" \
    --pub "$W/ek_rsa_flip.pub"
expect_reason ek_pub_is_ak ek_attributes ek $ROOTS --cert "$E/ek_rsa.der" --pub "$E/ak_rsa.pub"
head -c 500 "$E/ek_rsa.der" >"$W/ek_trunc.der"
expect_reason ek_cert_truncated ek_cert_malformed ek $ROOTS --cert "$W/ek_trunc.der"

# A SHA-1 vendor chain and a certificate with the platform EKU, made with openssl over the
# real RSA EK key: SHA-1 is refused unless the operator enables the profile.
openssl x509 -inform DER -in "$E/ek_rsa.der" -noout -pubkey >"$W/ek_rsa_key.pem"
openssl req -x509 -sha1 -newkey rsa:2048 -nodes -keyout "$W/v1.key" -out "$W/v1.pem" \
    -subj "/CN=Vendor SHA-1 Root" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    >/dev/null 2>&1
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyEncipherment\nextendedKeyUsage=2.23.133.8.1\n' >"$W/ek.ext"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyEncipherment\nextendedKeyUsage=2.23.133.8.2\n' >"$W/pl.ext"
openssl x509 -new -subj "/CN=ek" -force_pubkey "$W/ek_rsa_key.pem" -CA "$W/v1.pem" \
    -CAkey "$W/v1.key" -sha1 -days 3650 -extfile "$W/ek.ext" -outform DER \
    -out "$W/ek_sha1.der" >/dev/null 2>&1
openssl x509 -new -subj "/CN=platform" -force_pubkey "$W/ek_rsa_key.pem" -CA "$W/v1.pem" \
    -CAkey "$W/v1.key" -sha256 -days 3650 -extfile "$W/pl.ext" -outform DER \
    -out "$W/ek_platform.der" >/dev/null 2>&1
openssl verify -CAfile "$W/v1.pem" "$W/v1.pem" >/dev/null 2>&1 || bad "openssl: SHA-1 root"
expect_reason ek_sha1_default ek_cert_weak ek --roots "$W/v1.pem" --cert "$W/ek_sha1.der" \
    --pub "$E/ek_rsa.pub"
expect_ok ek_sha1_profile ek --roots "$W/v1.pem" --cert "$W/ek_sha1.der" --pub "$E/ek_rsa.pub" \
    --sha1
expect_reason ek_platform_eku ek_cert_eku ek --roots "$W/v1.pem" --cert "$W/ek_platform.der" \
    --pub "$E/ek_rsa.pub"

# ---- credential activation: our MakeCredential, the TPM's ActivateCredential ----------------
# activate_case NAME EK_HANDLE AK EK_ARGS...
activate_case() {
    local n=$1 h=$2 ak=$3
    shift 3
    openssl rand 32 >"$W/$n.secret"
    expect_ok "makecred_$n" makecred "$@" --ak-pub "$E/ak_$ak.pub" --secret "$W/$n.secret" \
        --out "$W/$n.cred"
    if af_activate "$h" "$E/ak_$ak.ctx" "$W/$n.cred" "$W/$n.out"; then
        ok
        expect_ok "secret_$n" secret --expected "$W/$n.secret" --returned "$W/$n.out"
    else
        bad "activate_$n: TPM2_ActivateCredential refused our credential"
    fi
}
activate_case rsa_cert $AF_EK_RSA rsa --ek-cert "$E/ek_rsa.der" $ROOTS
activate_case rsa_pub $AF_EK_RSA rsa --ek-pub "$E/ek_rsa.pub"
activate_case p256_cert $AF_EK_P256 e256 --ek-cert "$E/ek_p256.der" $ROOTS
activate_case p256_pub $AF_EK_P256 e256 --ek-pub "$E/ek_p256.pub"
activate_case p384_cert $AF_EK_P384 e384 --ek-cert "$E/ek_p384.der" $ROOTS
activate_case p384_pub $AF_EK_P384 pss --ek-pub "$E/ek_p384.pub"
# Wrong secret: the one of another session.
expect_reason secret_wrong secret_mismatch secret --expected "$W/rsa_cert.secret" \
    --returned "$W/rsa_pub.out"
# A credential for another AK's Name: the TPM must refuse it (TPM_RC_INTEGRITY, 0x1df). The
# RSA EK is the one the credential is for; the AK loaded is not the one it names.
openssl rand 32 >"$W/other.secret"
expect_ok makecred_other_ak makecred --ek-pub "$E/ek_rsa.pub" --ak-pub "$E/ak_e256.pub" \
    --secret "$W/other.secret" --out "$W/other.cred"
if af_activate $AF_EK_RSA "$E/ak_rsa.ctx" "$W/other.cred" "$W/other.out"; then
    bad "activate_other_ak: the TPM released a credential made for another AK"
elif tail -n 5 "$AF/tools.log" | grep -qi "0x1df\|integrity"; then
    ok
else
    bad "activate_other_ak: refused, but not with TPM_RC_INTEGRITY: $(tail -n 3 "$AF/tools.log")"
fi

# ---- quotes -------------------------------------------------------------------------------
for k in rsa pss e256 e384; do
    expect_ok "quote_$k" quote --ak "$E/ak_$k.pub" --msg "$E/quote_$k.msg" \
        --sig "$E/quote_$k.sig" --pcrs "$E/quote_$k.pcrs" --nonce "$N"
done
Q="--ak $E/ak_rsa.pub --sig $E/quote_rsa.sig --pcrs $E/quote_rsa.pcrs"
N2=$(openssl rand -hex 32)
expect_reason quote_replayed nonce_mismatch quote $Q --msg "$E/quote_rsa.msg" --nonce "$N2"
flip "$E/quote_rsa.pcrs" "$W/pcrs_changed" $((4 * 32 + 7)) # one byte of PCR 4
expect_reason quote_pcr_changed pcr_digest_mismatch quote --ak "$E/ak_rsa.pub" \
    --msg "$E/quote_rsa.msg" --sig "$E/quote_rsa.sig" --pcrs "$W/pcrs_changed" --nonce "$N"
# clockInfo.clock starts after magic(4) type(2) qualifiedSigner(2+34) extraData(2+32) = 76
flip "$E/quote_rsa.msg" "$W/quote_tampered.msg" 80
expect_reason quote_tampered signature_invalid quote $Q --msg "$W/quote_tampered.msg" --nonce "$N"
flip "$E/quote_rsa.msg" "$W/quote_magic.msg" 0
expect_reason quote_bad_magic bad_magic quote $Q --msg "$W/quote_magic.msg" --nonce "$N"
expect_reason quote_is_certify wrong_type quote --ak "$E/ak_e256.pub" \
    --msg "$E/certify_tls.attest" --sig "$E/certify_tls.sig" --pcrs "$E/quote_e256.pcrs" \
    --nonce "$N"
expect_reason quote_selection pcr_selection quote $Q --msg "$E/quote_rsa.msg" --nonce "$N" \
    --mask 0x7f
expect_reason quote_other_ak sig_scheme quote --ak "$E/ak_pss.pub" --msg "$E/quote_rsa.msg" \
    --sig "$E/quote_rsa.sig" --pcrs "$E/quote_rsa.pcrs" --nonce "$N"
head -c 100 "$E/quote_rsa.msg" >"$W/quote_trunc.msg"
expect_reason quote_truncated truncated quote $Q --msg "$W/quote_trunc.msg" --nonce "$N"
# extraData.size (offset 4+2+2+34 = 42) 32 -> 65: above TPM2B_DATA's 64 bytes.
cp "$E/quote_rsa.msg" "$W/quote_over.msg"
poke16 "$W/quote_over.msg" 42 0041
expect_reason quote_oversized oversized quote $Q --msg "$W/quote_over.msg" --nonce "$N"
head -c 100 "$E/quote_rsa.sig" >"$W/sig_trunc"
expect_reason quote_sig_truncated truncated quote --ak "$E/ak_rsa.pub" --msg "$E/quote_rsa.msg" \
    --sig "$W/sig_trunc" --pcrs "$E/quote_rsa.pcrs" --nonce "$N"

# ---- certify --------------------------------------------------------------------------------
C="--ak $E/ak_e256.pub --msg $E/certify_tls.attest --sig $E/certify_tls.sig"
expect_ok certify_tls certify $C --key "$E/tls.pub" --csr "$E/tls.csr" --nonce "$N"
expect_reason certify_exportable key_exportable certify --ak "$E/ak_e256.pub" \
    --msg "$E/certify_exp.attest" --sig "$E/certify_exp.sig" --key "$E/exp.pub" --nonce "$N"
expect_reason certify_storage_key key_usage certify --ak "$E/ak_e256.pub" \
    --msg "$E/certify_srk.attest" --sig "$E/certify_srk.sig" --key "$E/srk.pub" --nonce "$N"
expect_reason certify_csr_other_key csr_key_mismatch certify $C --key "$E/tls.pub" \
    --csr "$E/other.csr" --nonce "$N"
expect_reason certify_wrong_pub certified_name_mismatch certify $C --key "$E/exp.pub" \
    --nonce "$N"
expect_reason certify_replayed nonce_mismatch certify $C --key "$E/tls.pub" --nonce "$N2"
flip "$E/tls.csr" "$W/bad.csr" 200
expect_reason certify_bad_csr csr_invalid certify $C --key "$E/tls.pub" --csr "$W/bad.csr" \
    --nonce "$N"

# ---- PCR policy ---------------------------------------------------------------------------
hexpcr() { # hexpcr FILE I: PCR I from a sha256 values file
    od -An -v -tx1 -j $(($2 * 32)) -N 32 "$1" | tr -d ' \n'
}
P=$E/quote_rsa.pcrs
cat >"$W/ztca.conf" <<EOF
{ "version": 1, "trust_domain": "corp.example",
  "attestation": { "pcr_policies": {
    "laptop": { "mode": "allowlist", "bank": "sha256", "pcrs": [0,1,2,3,4,5,6,7],
      "allowed": [
        { "name": "fw-old", "pcrs": { "0": "$(printf '%064d' 0)" } },
        { "name": "fw-1.0-sb-on", "pcrs": { "0": "$(hexpcr "$P" 0)", "1": "$(hexpcr "$P" 1)",
          "2": "$(hexpcr "$P" 2)", "3": "$(hexpcr "$P" 3)", "4": "$(hexpcr "$P" 4)",
          "5": "$(hexpcr "$P" 5)", "6": "$(hexpcr "$P" 6)", "7": "$(hexpcr "$P" 7)" } } ] },
    "server": { "mode": "baseline", "pcrs": [0,1,2,3,4,5,6,7] } } } }
EOF
expect_ok pcr_allowlist quote $Q --msg "$E/quote_rsa.msg" --nonce "$N" --policy "$W/ztca.conf" \
    --class laptop
[ "$(field pcr_decision)" = pass ] && [ "$(field pcr_matched)" = fw-1.0-sb-on ] && ok ||
    bad "pcr_allowlist: $(echo $OUT)"
expect_ok pcr_baseline_first quote $Q --msg "$E/quote_rsa.msg" --nonce "$N" \
    --policy "$W/ztca.conf" --class server --write-baseline "$W/baseline.json"
[ "$(field pcr_decision)" = record ] && [ -s "$W/baseline.json" ] && ok ||
    bad "pcr_baseline_first: $(echo $OUT)"
expect_ok pcr_baseline_same quote $Q --msg "$E/quote_rsa.msg" --nonce "$N" \
    --policy "$W/ztca.conf" --class server --baseline "$W/baseline.json"
[ "$(field pcr_decision)" = pass ] && ok || bad "pcr_baseline_same: $(echo $OUT)"
run pcr_no_policy quote $Q --msg "$E/quote_rsa.msg" --nonce "$N" --policy "$W/ztca.conf" \
    --class kiosk
[ "$(field pcr_finding)" = "pcr_no_policy:-1" ] && ok || bad "pcr_no_policy: $(echo $OUT)"
# The boot changes for real: extend PCR 7 (Secure Boot policy) and quote again.
af_q tpm2_pcrextend "7:sha256=$(printf 'ztca-sb-off' | openssl dgst -sha256 -r | cut -c1-64)" ||
    bad "pcrextend"
af_quote rsa "$N2" || bad "second quote"
Q2="--ak $E/ak_rsa.pub --msg $E/quote_rsa.msg --sig $E/quote_rsa.sig --pcrs $E/quote_rsa.pcrs"
run pcr_baseline_changed quote $Q2 --nonce "$N2" --policy "$W/ztca.conf" --class server \
    --baseline "$W/baseline.json"
[ "$FIRST" = ok ] && [ "$(field pcr_decision)" = fail ] &&
    [ "$(field pcr_finding)" = "pcr_changed:7" ] && ok || bad "pcr_baseline_changed: $(echo $OUT)"
run pcr_allowlist_changed quote $Q2 --nonce "$N2" --policy "$W/ztca.conf" --class laptop
[ "$(field pcr_decision)" = fail ] && [ "$(field pcr_finding)" = "pcr_not_allowed:7" ] && ok ||
    bad "pcr_allowlist_changed: $(echo $OUT)"

# ---- summary ------------------------------------------------------------------------------
for f in "$SAN"/report.*; do
    [ -f "$f" ] || continue
    bad "sanitizer report from pid ${f##*.}: $(grep -m1 -E 'ERROR|runtime error' "$f" | cut -c1-160)"
    cat "$f" >&2
done
echo "timings (in-process verify calls):$TIMINGS"
echo "attest integration: $PASS checks passed, $FAIL failed, $(ms_since "$T_START") ms"
[ "$FAIL" -eq 0 ]
