# attest_fixtures.sh: TPM evidence from a real software TPM (swtpm 0.7 + tpm2-tools 5.4), for
# tests/integration/test_attest.sh and tests/fuzz/corpus/make_attest_seeds.sh. Sourced, not run.
#
# The caller sets AF to an empty scratch directory (short path: it holds a Unix socket) and calls,
# in order: af_init, af_manufacture, af_start, af_evidence. af_stop must run on every exit path
# (put it in a trap): killing swtpm without TPM2_Shutdown counts as a dictionary-attack event and
# three of them lock the TPM (../shared/notes/TPM.md, pitfall P9).
#
# Every step follows the measured commands of the notes (sections 2 and 3). What af_evidence
# leaves in $AF/ev:
#   ek_rsa.der ek_rsa.pub          RSA-2048 EK (TCG L-1, 0x81010001), certificate from NV 0x01c00002
#   ek_p384.der ek_p384.pub        ECC P-384 EK (TCG H-3, 0x81010016), certificate from NV 0x01c00016
#   ek_p256.der ek_p256.pub        ECC P-256 EK (TCG L-2, 0x81010002), provisioned by us, NV 0x01c0000a
#   ek_p384_untrusted.der          the P-384 EK key certified by a second, untrusted local CA
#   roots/localca.pem              the trusted swtpm local CA: root + intermediate
#   roots/untrusted.pem            the untrusted CA's root + intermediate
#   ak_<k>.pub .name .ctx          AKs: rsa (RSASSA, under the RSA EK), pss (RSAPSS, under the P-384
#                                  EK: SHA-384 Name), e256 (ECDSA P-256 under the P-256 EK),
#                                  e384 (ECDSA P-384/SHA-384 under the P-384 EK)
#   quote_<k>.msg .sig .pcrs       TPM2_Quote over sha256:0-7 with nonce.hex, raw PCR values
#   nonce.hex                      the quote and certify nonce (32 bytes, hex)
#   srk.pub tls.pub exp.pub        storage key, non-exportable P-256 TLS key, exportable P-256 key
#   certify_tls.attest .sig        TPM2_Certify of the TLS key by ak_e256, nonce as qualifyingData
#   certify_exp.attest .sig        the same for the exportable key
#   certify_srk.attest .sig        the same for the storage key (restricted, decrypt)
#   tls.csr other.csr              CSR from the TLS key (tpm2-openssl), CSR of an unrelated key

AF_EK_RSA=0x81010001
AF_EK_P384=0x81010016
AF_EK_P256=0x81010002
AF_AK_CERTIFY=0x81010003
AF_SRK=0x81000001
AF_TLS=0x81000002
AF_EXP=0x81000003

af_log() {
    [ -n "${AF_QUIET:-}" ] || printf 'attest-fixtures: %s\n' "$*" >&2
}

# af_have_tools: 0 when every program the fixtures need is installed.
af_have_tools() {
    for t in swtpm swtpm_setup swtpm_localca swtpm_ioctl tpm2_createek tpm2_createak tpm2_quote \
        tpm2_readpublic tpm2_nvread tpm2_nvdefine tpm2_nvwrite tpm2_activatecredential \
        tpm2_startauthsession tpm2_policysecret tpm2_flushcontext tpm2_shutdown tpm2_pcrextend \
        tpm2_createprimary tpm2_create tpm2_load tpm2_evictcontrol tpm2_getrandom openssl xxd; do
        if ! command -v "$t" >/dev/null 2>&1; then
            AF_MISSING=$t
            return 1
        fi
    done
    # The provider cannot be loaded without a TPM, so look for its module file.
    moddir=$(openssl version -m 2>/dev/null | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')
    if [ ! -f "${moddir:-/nonexistent}/tpm2.so" ]; then
        AF_MISSING="tpm2-openssl provider"
        return 1
    fi
    return 0
}

# af_init: configuration of a private swtpm local CA (not /var/lib/swtpm-localca), notes 2.1.
af_init() {
    mkdir -p "$AF/conf" "$AF/localca" "$AF/untrusted-ca" "$AF/state" "$AF/ev/roots" "$AF/tmp"
    cat >"$AF/conf/swtpm_setup.conf" <<EOF
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $AF/conf/swtpm-localca.conf
create_certs_tool_options = $AF/conf/swtpm-localca.options
active_pcr_banks = sha256
EOF
    for ca in localca untrusted-ca; do
        cat >"$AF/conf/$ca.conf" <<EOF
statedir = $AF/$ca
signingkey = $AF/$ca/signkey.pem
issuercert = $AF/$ca/issuercert.pem
certserial = $AF/$ca/certserial
EOF
    done
    cp "$AF/conf/localca.conf" "$AF/conf/swtpm-localca.conf"
    printf -- '--platform-manufacturer ZtcaTest\n--platform-version 2.1\n--platform-model swtpm-test\n' \
        >"$AF/conf/swtpm-localca.options"
}

# af_manufacture: RSA-2048 and P-384 EKs with certificates from the local CA (notes 2.2).
af_manufacture() {
    swtpm_setup --tpm2 --tpmstate "$AF/state" --create-ek-cert --lock-nvram --pcr-banks sha256 \
        --config "$AF/conf/swtpm_setup.conf" --overwrite >"$AF/setup.log" 2>&1 || {
        cat "$AF/setup.log" >&2
        return 1
    }
}

# af_manufacture_cached CACHE: af_manufacture once, then clone. A clone is the same TPM (same
# seeds, EKs and certificates) at about 5 ms instead of ~1 s (notes 2.4); the local CA that signed
# its EK certificates is cloned with it, so later certificates (the P-256 EK) chain the same way.
# The cache is taken right after swtpm_setup, before any use, and filled atomically (rename), so
# concurrent runs at worst both manufacture. Empty CACHE: no cache.
af_manufacture_cached() {
    AF_CLONED=
    if [ -n "$1" ] && [ -f "$1/done" ]; then
        cp -a "$1/state/." "$AF/state/" && cp -a "$1/localca/." "$AF/localca/" &&
            AF_CLONED=$1 && return 0
    fi
    af_manufacture || return 1
    if [ -n "$1" ]; then
        tmp="$1.tmp.$$"
        rm -rf "$tmp"
        if mkdir -p "$tmp" && cp -a "$AF/state" "$AF/localca" "$tmp/" && touch "$tmp/done"; then
            rm -rf "$1" && mv "$tmp" "$1" 2>/dev/null
        fi
        rm -rf "$tmp"
    fi
    return 0
}

# af_start: swtpm on a Unix socket (no port clashes, notes P12) and wait until it answers. The
# swtpm TCTI derives the control socket name: "<path>.ctrl".
af_start() {
    AF_SOCK="$AF/tpm.sock"
    rm -f "$AF_SOCK" "$AF_SOCK.ctrl"
    swtpm socket --tpm2 --tpmstate dir="$AF/state" \
        --server type=unixio,path="$AF_SOCK" --ctrl type=unixio,path="$AF_SOCK.ctrl" \
        --flags not-need-init,startup-clear --pid file="$AF/swtpm.pid" \
        --log file="$AF/swtpm.log" &
    AF_PID=$!
    export TPM2TOOLS_TCTI="swtpm:path=$AF_SOCK"
    export TPM2OPENSSL_TCTI="swtpm:path=$AF_SOCK"
    for _ in $(seq 1 500); do
        if ! kill -0 "$AF_PID" 2>/dev/null; then
            af_log "swtpm died at start"
            cat "$AF/swtpm.log" >&2
            AF_PID=
            return 1
        fi
        if tpm2_getrandom 4 --hex >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.01
    done
    af_log "swtpm did not answer"
    return 1
}

# af_stop: orderly TPM2_Shutdown, then stop swtpm through its control channel; SIGTERM only as
# the last resort. Safe to call twice.
af_stop() {
    if [ -n "${AF_PID:-}" ]; then
        tpm2_shutdown -c >/dev/null 2>&1 || true
        swtpm_ioctl --unix "$AF/tpm.sock.ctrl" -s >/dev/null 2>&1 || kill "$AF_PID" 2>/dev/null || true
        for _ in $(seq 1 200); do
            kill -0 "$AF_PID" 2>/dev/null || break
            sleep 0.01
        done
        kill "$AF_PID" 2>/dev/null || true
        wait "$AF_PID" 2>/dev/null || true
        AF_PID=
    fi
}

# af_flush: without a resource manager swtpm has 3 transient slots (notes P4).
af_flush() {
    tpm2_flushcontext -t >/dev/null 2>&1 || true
    tpm2_flushcontext -s >/dev/null 2>&1 || true
}

af_q() {
    "$@" >>"$AF/tools.log" 2>&1 || {
        af_log "FAILED: $*"
        tail -n 20 "$AF/tools.log" >&2
        return 1
    }
}

# af_pem_chain OUT CADIR: the local CA's root and intermediate as one PEM trust file.
af_pem_chain() {
    cat "$2/swtpm-localca-rootca-cert.pem" "$2/issuercert.pem" >"$1"
}

af_ec_xy() { # af_ec_xy PUB -> "x=..,y=.." from tpm2_readpublic's YAML
    tpm2_readpublic -c "$1" 2>/dev/null | awk '/^x:/{x=$2} /^y:/{y=$2} END{printf "x=%s,y=%s", x, y}'
}

af_localca_ek() { # af_localca_ek CONF KEYPARAM OUTDIR: an EK certificate from swtpm_localca
    mkdir -p "$3"
    af_q swtpm_localca --type ek --ek "$2" --dir "$3" --tpm2 --tpm-spec-family 2.0 \
        --tpm-spec-level 0 --tpm-spec-revision 164 --tpm-manufacturer id:00001014 \
        --tpm-model swtpm --tpm-version id:20191023 --configfile "$1" \
        --optsfile "$AF/conf/swtpm-localca.options"
}

# af_evidence: everything listed at the top of this file.
af_evidence() {
    E="$AF/ev"
    N=$(openssl rand -hex 32)
    printf '%s' "$N" >"$E/nonce.hex"
    # Make any dictionary-attack event harmless in case a run is ever killed hard.
    af_q tpm2_dictionarylockout --setup-parameters --max-tries=1000 --recovery-time=1 \
        --lockout-recovery-time=1 || return 1

    af_log "EK certificates and publics"
    af_q tpm2_nvread 0x01c00002 -C o -o "$E/ek_rsa.der" || return 1
    af_q tpm2_nvread 0x01c00016 -C o -o "$E/ek_p384.der" || return 1
    af_q tpm2_readpublic -c $AF_EK_RSA -f tss -o "$E/ek_rsa.pub" || return 1
    af_q tpm2_readpublic -c $AF_EK_P384 -f tss -o "$E/ek_p384.pub" || return 1
    af_pem_chain "$E/roots/localca.pem" "$AF/localca"

    af_log "P-256 EK (TCG L-2) and its certificate at 0x01c0000a (notes 2.3)"
    af_q tpm2_createek -c $AF_EK_P256 -G ecc -u "$E/ek_p256.pub" -f tss || return 1
    af_flush
    af_localca_ek "$AF/conf/localca.conf" "$(af_ec_xy $AF_EK_P256),id=secp256r1" "$AF/p256" || return 1
    cp "$AF/p256/ek.cert" "$E/ek_p256.der"
    af_q tpm2_nvdefine 0x01c0000a -C p -s "$(stat -c %s "$E/ek_p256.der")" \
        -a "ppwrite|writedefine|ppread|ownerread|authread|no_da|platformcreate" || return 1
    af_q tpm2_nvwrite 0x01c0000a -C p -i "$E/ek_p256.der" || return 1
    af_q tpm2_nvread 0x01c0000a -C o -o "$AF/tmp/p256.der" || return 1
    cmp -s "$AF/tmp/p256.der" "$E/ek_p256.der" || {
        af_log "P-256 EK certificate NV round trip differs"
        return 1
    }

    af_log "the P-384 EK certified by an untrusted CA"
    af_localca_ek "$AF/conf/untrusted-ca.conf" "$(af_ec_xy $AF_EK_P384),id=secp384r1" "$AF/untr" || return 1
    cp "$AF/untr/ek.cert" "$E/ek_p384_untrusted.der"
    af_pem_chain "$E/roots/untrusted.pem" "$AF/untrusted-ca"

    af_log "AKs"
    af_ak rsa $AF_EK_RSA rsa sha256 rsassa || return 1
    af_ak pss $AF_EK_P384 rsa sha256 rsapss || return 1
    af_ak e256 $AF_EK_P256 ecc256 sha256 ecdsa || return 1
    af_ak e384 $AF_EK_P384 ecc384 sha384 ecdsa || return 1

    af_log "fake measured boot and quotes over sha256:0-7"
    for i in 0 1 2 3 4 5 6 7; do
        af_q tpm2_pcrextend "$i:sha256=$(printf 'ztca-boot-%s' "$i" | openssl dgst -sha256 -r | cut -c1-64)" || return 1
    done
    for k in rsa pss e256 e384; do
        af_quote "$k" "$N" || return 1
    done

    af_log "storage key, non-exportable TLS key, exportable key"
    af_q tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb -c "$AF/tmp/srk.ctx" \
        -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt" || return 1
    af_q tpm2_evictcontrol -C o -c "$AF/tmp/srk.ctx" $AF_SRK || return 1
    af_flush
    af_q tpm2_readpublic -c $AF_SRK -f tss -o "$E/srk.pub" || return 1
    af_key tls $AF_TLS "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|sign" || return 1
    af_key exp $AF_EXP "sensitivedataorigin|userwithauth|noda|sign" || return 1

    af_log "certify (ESAPI helper: tpm2_certify 5.4 cannot bind a nonce, notes P10)"
    af_q tpm2_evictcontrol -C o -c "$E/ak_e256.ctx" $AF_AK_CERTIFY || return 1
    af_flush
    af_q "$AF_CERTIFY_BIN" $AF_AK_CERTIFY $AF_TLS "$N" "$E/certify_tls.attest" "$E/certify_tls.sig" || return 1
    af_q "$AF_CERTIFY_BIN" $AF_AK_CERTIFY $AF_EXP "$N" "$E/certify_exp.attest" "$E/certify_exp.sig" || return 1
    af_q "$AF_CERTIFY_BIN" $AF_AK_CERTIFY $AF_SRK "$N" "$E/certify_srk.attest" "$E/certify_srk.sig" || return 1

    af_log "CSRs"
    af_q openssl req -new -provider tpm2 -provider default -key handle:$AF_TLS \
        -subj "/CN=device-0001/O=ztca-test" -out "$E/tls.csr" || return 1
    af_q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$AF/tmp/other.key" -subj "/CN=device-0001/O=ztca-test" -out "$E/other.csr" || return 1
}

af_ak() { # af_ak NAME EK ALG HASH SCHEME
    E="$AF/ev"
    af_q tpm2_createak -C "$2" -c "$E/ak_$1.ctx" -G "$3" -g "$4" -s "$5" -u "$E/ak_$1.pub" \
        -n "$E/ak_$1.name" -r "$E/ak_$1.priv" -f tss || return 1
    af_flush
}

af_quote() { # af_quote AK NONCE_HEX
    E="$AF/ev"
    case $1 in
    rsa) set -- "$1" "$2" sha256 rsassa ;;
    pss) set -- "$1" "$2" sha256 rsapss ;;
    e256) set -- "$1" "$2" sha256 ecdsa ;;
    e384) set -- "$1" "$2" sha384 ecdsa ;;
    esac
    af_q tpm2_quote -c "$E/ak_$1.ctx" -l sha256:0,1,2,3,4,5,6,7 -q "$2" -g "$3" --scheme "$4" \
        -m "$E/quote_$1.msg" -s "$E/quote_$1.sig" -o "$E/quote_$1.pcrs" -F values -f tss || return 1
    af_flush
}

af_key() { # af_key NAME HANDLE ATTRIBUTES: a P-256 signing key under the SRK, persisted
    E="$AF/ev"
    af_q tpm2_create -C $AF_SRK -G ecc256:null -a "$3" -u "$E/$1.pub" -r "$AF/tmp/$1.priv" &&
        af_q tpm2_load -C $AF_SRK -u "$E/$1.pub" -r "$AF/tmp/$1.priv" -c "$AF/tmp/$1.ctx" &&
        af_q tpm2_evictcontrol -C o -c "$AF/tmp/$1.ctx" "$2" || return 1
    af_flush
}

# af_activate EK AK CRED OUT: TPM2_ActivateCredential on swtpm. L-templates (RSA, P-256) need a
# PolicySecret(TPM_RH_ENDORSEMENT) session; swtpm's H-3 P-384 EK takes the empty password
# (notes P3).
af_activate() {
    E="$AF/ev"
    af_flush
    if [ "$1" = $AF_EK_P384 ]; then
        tpm2_activatecredential -c "$2" -C "$1" -i "$3" -o "$4" >>"$AF/tools.log" 2>&1
        r=$?
    else
        tpm2_startauthsession --policy-session -S "$AF/tmp/s.ctx" >>"$AF/tools.log" 2>&1 &&
            tpm2_policysecret -S "$AF/tmp/s.ctx" -c e >>"$AF/tools.log" 2>&1 &&
            tpm2_activatecredential -c "$2" -C "$1" -i "$3" -o "$4" -P "session:$AF/tmp/s.ctx" \
                >>"$AF/tools.log" 2>&1
        r=$?
        tpm2_flushcontext "$AF/tmp/s.ctx" >/dev/null 2>&1 || true
    fi
    af_flush
    return $r
}
