#!/usr/bin/env bash
# make_seeds.sh: regenerates the named seeds of the der, csr, pem, key, config, duration and cert
# corpora in tests/fuzz/corpus/ (see corpus/README.md).
#
# Run by hand, never by CI: keys are random, so every run rewrites most files, and the committed
# seeds are the reference. Needs openssl (3.x) and python3 (standard library only). Overwrites the
# descriptively named seeds and leaves the content-hash named ones (found by fuzzing) alone.
#
# usage: tests/fuzz/make_seeds.sh [CORPUS_DIR]     (default: the corpus/ next to this script)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/corpus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"/{der,csr,pem,key,config,duration,cert}

ossl() { openssl "$@" 2>/dev/null; }
subj=/O=example.org/CN=fuzz-seed

# ---- keys ------------------------------------------------------------------------------------
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/p256.pem"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$work/p384.pem"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$work/p521.pem"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$work/k256.pem"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP256r1 -out "$work/bp256.pem"
ossl genpkey -algorithm ED25519 -out "$work/ed25519.pem"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa2048.pem"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 \
    -out "$work/rsa2048_e3.pem"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$work/rsa1024.pem"
ossl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$work/rsapss.pem"
ossl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out "$work/dsa.param"
ossl genpkey -paramfile "$work/dsa.param" -out "$work/dsa.pem"

# ---- csr: ca_csr_parse ---------------------------------------------------------------------
csr() { # csr NAME KEY [extra openssl req options]
    local name=$1 key=$2
    shift 2
    ossl req -new -key "$work/$key.pem" -subj "$subj" "$@" -out "$out/csr/$name.pem"
}
csr csr_p256_sha256 p256 -sha256
ossl req -in "$out/csr/csr_p256_sha256.pem" -outform DER -out "$out/csr/csr_p256_sha256.der"
csr csr_p384_sha384 p384 -sha384
csr csr_p256_sha512 p256 -sha512
csr csr_p256_sha1 p256 -sha1
csr csr_p256_san_requested p256 -addext "subjectAltName=DNS:evil.example,URI:spiffe://x/y"
csr csr_rsa2048 rsa2048 -sha256
csr csr_rsa2048_e3 rsa2048_e3 -sha256
csr csr_rsa_pss rsa2048 -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
csr csr_rsa_pss_key rsapss -sha256
csr csr_rsa1024 rsa1024 -sha256
csr csr_p521 p521 -sha512
csr csr_secp256k1 k256 -sha256
csr csr_brainpool256 bp256 -sha256
csr csr_ed25519 ed25519
csr csr_dsa2048 dsa -sha256
sed 's/CERTIFICATE REQUEST/NEW CERTIFICATE REQUEST/' "$out/csr/csr_p256_sha256.pem" \
    >"$out/csr/csr_p256_new_label.pem"
sed 's/$/\r/' "$out/csr/csr_p256_sha256.pem" >"$out/csr/csr_p256_crlf.pem"
ossl req -in "$out/csr/csr_p256_sha256.pem" -text >"$out/csr/csr_p256_text_before.pem"
cat "$out/csr/csr_p256_sha256.pem" "$out/csr/csr_p384_sha384.pem" >"$out/csr/csr_two_blocks.pem"
sed 's/CERTIFICATE REQUEST/CERTIFICATE/' "$out/csr/csr_p256_sha256.pem" \
    >"$out/csr/csr_wrong_label.pem"

# ---- pem and der material ------------------------------------------------------------------
ossl req -x509 -new -key "$work/p256.pem" -subj "/O=example.org/CN=seed CA" -days 30 \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$work/ca.pem"
ossl req -new -key "$work/p384.pem" -subj "$subj" -out "$work/leaf.csr"
ossl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/p256.pem" \
    -set_serial 0x7f0102030405060708090a0b0c0d0e0f -days 7 -out "$work/leaf.pem"
mkdir -p "$work/ca"
: >"$work/ca/index.txt"
echo 01 >"$work/ca/crlnumber"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = seed
[seed]
database = $work/ca/index.txt
crlnumber = $work/ca/crlnumber
default_md = sha256
default_crl_days = 7
EOF
ossl ca -config "$work/ca.cnf" -revoke "$work/leaf.pem" -keyfile "$work/p256.pem" \
    -cert "$work/ca.pem" -crl_reason keyCompromise
ossl ca -config "$work/ca.cnf" -gencrl -keyfile "$work/p256.pem" -cert "$work/ca.pem" \
    -out "$work/crl.pem"
ossl ocsp -issuer "$work/ca.pem" -cert "$work/leaf.pem" -reqout "$work/ocsp_req.der"

cp "$work/ca.pem" "$out/pem/pem_cert_p256.pem"
cat "$work/leaf.pem" "$work/ca.pem" >"$out/pem/pem_chain_two_certs.pem"
sed 's/$/\r/' "$work/ca.pem" >"$out/pem/pem_cert_crlf.pem"
ossl x509 -in "$work/leaf.pem" -text >"$out/pem/pem_cert_with_text.pem"
cp "$work/crl.pem" "$out/pem/pem_crl.pem"
ossl pkey -in "$work/p256.pem" -pubout -out "$out/pem/pem_pubkey_p256.pem"
ossl ec -in "$work/p256.pem" -aes256 -passout pass:seed -out "$out/pem/pem_legacy_encrypted.pem"

ossl x509 -in "$work/ca.pem" -outform DER -out "$out/der/der_cert_p256.der"
ossl x509 -in "$work/leaf.pem" -outform DER -out "$out/der/der_cert_leaf_p384.der"
ossl req -in "$out/csr/csr_p256_sha256.pem" -outform DER -out "$out/der/der_csr_p256.der"
ossl crl -in "$work/crl.pem" -outform DER -out "$out/der/der_crl.der"
cp "$work/ocsp_req.der" "$out/der/der_ocsp_req.der"
ossl pkcs8 -topk8 -nocrypt -in "$work/p256.pem" -outform DER -out "$out/der/der_pkcs8_p256.der"
ossl pkey -in "$work/p256.pem" -pubout -outform DER -out "$out/der/der_spki_p256.der"
ossl pkey -in "$work/rsa1024.pem" -pubout -outform DER -out "$out/der/der_spki_rsa1024.der"

# ---- key: ca_key_parse ---------------------------------------------------------------------
ossl pkcs8 -topk8 -nocrypt -in "$work/p256.pem" -out "$out/key/key_pkcs8_p256.pem"
ossl pkcs8 -topk8 -nocrypt -in "$work/p384.pem" -out "$out/key/key_pkcs8_p384.pem"
ossl ec -in "$work/p256.pem" -out "$out/key/key_sec1_p256.pem"
ossl ec -in "$work/p384.pem" -out "$out/key/key_sec1_p384.pem"
ossl ec -in "$work/p256.pem" -no_public -out "$out/key/key_sec1_p256_no_pubkey.pem"
ossl ec -in "$work/p256.pem" -conv_form compressed -out "$out/key/key_sec1_p256_compressed.pem"
ossl ec -in "$work/p256.pem" -param_enc explicit -out "$out/key/key_sec1_p256_explicit_curve.pem"
# -iter 2048 keeps a passphrase test fast; without a passphrase PBKDF2 never runs anyway.
p8enc() { # p8enc NAME KEY [openssl pkcs8 options]
    local name=$1 key=$2
    shift 2
    ossl pkcs8 -topk8 -in "$work/$key.pem" -passout pass:seed "$@" -out "$out/key/$name.pem"
}
p8enc key_pkcs8_encrypted_aes256 p256 -v2 aes-256-cbc -iter 2048
p8enc key_pkcs8_encrypted_aes128_sha1 p256 -v2 aes-128-cbc -v2prf hmacWithSHA1 -iter 2048
p8enc key_pkcs8_encrypted_aes192_sha512 p384 -v2 aes-192-cbc -v2prf hmacWithSHA512 -iter 2048
p8enc key_pkcs8_encrypted_des3 p256 -v2 des3 -iter 2048
p8enc key_pkcs8_encrypted_pbes1 p256 -v1 PBE-SHA1-3DES -iter 2048
p8enc key_pkcs8_encrypted_scrypt p256 -scrypt -scrypt_N 1024 -scrypt_r 8 -scrypt_p 1
ossl pkcs8 -topk8 -nocrypt -in "$work/rsa1024.pem" -out "$out/key/key_pkcs8_rsa1024.pem"
ossl pkcs8 -topk8 -nocrypt -in "$work/p521.pem" -out "$out/key/key_pkcs8_p521.pem"
ossl pkcs8 -topk8 -nocrypt -in "$work/k256.pem" -out "$out/key/key_pkcs8_secp256k1.pem"
ossl pkcs8 -topk8 -nocrypt -in "$work/ed25519.pem" -out "$out/key/key_pkcs8_ed25519.pem"
ossl rsa -in "$work/rsa1024.pem" -traditional -out "$out/key/key_rsa1024_traditional.pem"
ossl ec -in "$work/p256.pem" -aes256 -passout pass:seed -out "$out/key/key_sec1_legacy_encrypted.pem"
cat "$out/key/key_pkcs8_p256.pem" "$out/key/key_pkcs8_p384.pem" >"$out/key/key_two_blocks.pem"
{ echo "Bag Attributes: written by a tool that comments its PEM"; cat "$out/key/key_pkcs8_p256.pem"; } \
    >"$out/key/key_pkcs8_p256_text_before.pem"

# ---- hand-made seeds: byte surgery and structures openssl does not write --------------------
python3 - "$out" "$work" <<'PY'
import base64, os, sys

out, work = sys.argv[1], sys.argv[2]

def w(path, data):
    with open(os.path.join(out, path), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def hdr(tag, n):
    if n < 0x80:
        return bytes([tag, n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b

def tlv(tag, *parts):
    body = b"".join(parts)
    return hdr(tag, len(body)) + body

def seq(*p): return tlv(0x30, *p)
def oid(hexstr): return tlv(0x06, bytes.fromhex(hexstr))
def octets(b): return tlv(0x04, b)
def integer(v):
    n = max(1, (v.bit_length() + 8) // 8)
    return tlv(0x02, v.to_bytes(n, "big"))
def pem(label, der):
    b = base64.b64encode(der).decode()
    lines = "\n".join(b[i:i + 64] for i in range(0, len(b), 64))
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, lines, label)
def read(path):
    with open(path, "rb") as f:
        return f.read()
def unpem(path):
    lines = [l for l in read(path).decode().splitlines() if l and not l.startswith("-----")]
    return base64.b64decode("".join(lines))

# der: strict DER and each way of breaking it
prims = seq(
    tlv(0x01, b"\xff"), tlv(0x01, b"\x00"),
    integer(0), integer(127), integer(128), integer(256), integer(2**63), integer(2**64 - 1),
    tlv(0x0a, b"\x05"), tlv(0x0a, b"\x7f\xff\xff\xff"),
    tlv(0x02, b"\x7f" + b"\x11" * 19),                      # a 20-octet serial
    tlv(0x02, b"\x00\x80" + b"\x22" * 18),                  # 20 octets with the sign octet
    tlv(0x03, b"\x00\xde\xad"), tlv(0x03, b"\x03\xa8"), tlv(0x03, b"\x00"),
    octets(b"octets"), tlv(0x05, b""), oid("2a864886f70d01010b"),
    tlv(0x17, b"491231235959Z"), tlv(0x17, b"500101000000Z"),
    tlv(0x18, b"20500101000000Z"), tlv(0x18, b"99991231235959Z"), tlv(0x18, b"00010101000000Z"),
    tlv(0x17, b"240229120000Z"),
    tlv(0x0c, "utf8 é".encode()), tlv(0x13, b"Printable"), tlv(0x16, b"ia5@example"),
    tlv(0x80, b"implicit"), tlv(0xa1, integer(1)), tlv(0x31, integer(1), integer(2)))
w("der/der_all_primitives.der", prims)
w("der/der_nested_long_length.der",
  seq(seq(octets(b"\x5a" * 200)), seq(seq(octets(b"\xa5" * 130), tlv(0x05, b"")))))
w("der/der_deep_nesting_40.der", (lambda f: f(f, 40))(
    lambda f, n: seq(f(f, n - 1)) if n > 0 else tlv(0x05, b"")))
w("der/der_eoc_tag.der", b"\x00\x00")
w("der/der_empty_sequence.der", b"\x30\x00")
w("der/der_indefinite_length.der", b"\x30\x80\x02\x01\x00\x00\x00")
w("der/der_non_minimal_length_81.der", b"\x30\x81\x03\x02\x01\x00")
w("der/der_non_minimal_length_82.der", b"\x04\x82\x00\x80" + b"\x00" * 128)
w("der/der_length_83_truncated.der", b"\x04\x83\x01\x00\x00" + b"\x00" * 16)
w("der/der_length_85.der", b"\x04\x85\x00\x00\x00\x00\x01\x00")
w("der/der_high_tag_number.der", b"\x1f\x81\x00\x01\x00")
w("der/der_truncated.der", b"\x30\x05\x02\x01")
w("der/der_trailing_garbage.der", seq(integer(1)) + b"\x00")
w("der/der_negative_integer.der", b"\x02\x01\x80")
w("der/der_padded_integer.der", b"\x02\x02\x00\x01")
w("der/der_padded_ff_integer.der", b"\x02\x02\xff\x80")
w("der/der_integer_too_large.der", b"\x02\x09\x01" + b"\x00" * 8)
w("der/der_serial_21_octets.der", b"\x02\x15\x01" + b"\x00" * 20)
w("der/der_serial_zero.der", b"\x02\x01\x00")
w("der/der_enumerated_2_31.der", b"\x0a\x05\x00\x80\x00\x00\x00")
w("der/der_bool_non_der.der", b"\x01\x01\x01")
w("der/der_null_with_content.der", b"\x05\x01\x00")
w("der/der_oid_non_minimal.der", b"\x06\x03\x2a\x80\x01")
w("der/der_oid_truncated.der", b"\x06\x02\x2a\x86")
w("der/der_bitstring_unused_nonzero.der", b"\x03\x02\x01\x01")
w("der/der_bitstring_unused_8.der", b"\x03\x02\x08\x00")
w("der/der_bitstring_empty_unused.der", b"\x03\x01\x01")
w("der/der_utctime_no_seconds.der", tlv(0x17, b"4901010000Z"))
w("der/der_utctime_feb29_2023.der", tlv(0x17, b"230229120000Z"))
w("der/der_gentime_fraction.der", tlv(0x18, b"20500101000000.123Z"))
w("der/der_gentime_offset.der", tlv(0x18, b"20500101000000+0100"))

# csr: the request with a broken signature, version, trailer
p256 = read(os.path.join(out, "csr/csr_p256_sha256.der"))
bad = bytearray(p256); bad[-5] ^= 0x01
w("csr/csr_bad_sig.der", bytes(bad))
w("csr/csr_trailing_data.der", p256 + b"\x00")
i = p256.index(b"\x02\x01\x00")                               # CertificationRequestInfo.version
w("csr/csr_version_2.der", p256[:i] + b"\x02\x01\x01" + p256[i + 3:])
w("csr/csr_truncated.der", p256[:len(p256) // 2])
w("csr/csr_pem_bad_base64.pem", read(os.path.join(out, "csr/csr_p256_sha256.pem")).replace(b"M", b"!", 1))

# key: PBES2 variants openssl does not write (parsing stops before PBKDF2 without a passphrase)
PBES2, PBKDF2 = "2a864886f70d01050d", "2a864886f70d01050c"
AES128, AES256 = "608648016503040102", "60864801650304012a"
SHA384 = "2a864886f70d020a"
def epki(salt=b"\x01" * 16, it=2048, keylen=None, prf=None, cipher=AES256, iv=b"\x02" * 16,
         data=b"\x03" * 48):
    params = [octets(salt), integer(it)]
    if keylen is not None:
        params.append(integer(keylen))
    if prf is not None:
        params.append(prf)
    kdf = seq(oid(PBKDF2), seq(*params))
    return pem("ENCRYPTED PRIVATE KEY",
               seq(seq(oid(PBES2), seq(kdf, seq(oid(cipher), octets(iv)))), octets(data)))
w("key/key_pbes2_keylength_32.pem", epki(keylen=32))
w("key/key_pbes2_keylength_mismatch.pem", epki(keylen=16))
w("key/key_pbes2_prf_sha384_no_null.pem", epki(prf=seq(oid(SHA384))))
w("key/key_pbes2_aes128_iter_1.pem", epki(cipher=AES128, it=1))
w("key/key_pbes2_iter_zero.pem", epki(it=0))
w("key/key_pbes2_iter_too_high.pem", epki(it=10000001))
w("key/key_pbes2_salt_7.pem", epki(salt=b"\x01" * 7))
w("key/key_pbes2_iv_8.pem", epki(iv=b"\x02" * 8))
w("key/key_pbes2_data_not_blocks.pem", epki(data=b"\x03" * 47))

# pem: decoder edge cases
cert = read(os.path.join(out, "pem/pem_cert_p256.pem")).decode()
w("pem/pem_empty_block.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
w("pem/pem_bad_base64.pem", cert.replace("M", "*", 1))
w("pem/pem_missing_end.pem", cert.split("-----END")[0])
w("pem/pem_mismatched_end.pem", cert.replace("END CERTIFICATE", "END X509 CRL"))
w("pem/pem_lowercase_label.pem", cert.replace("CERTIFICATE", "certificate"))
w("pem/pem_header_trailing_space.pem", cert.replace("CERTIFICATE-----\n", "CERTIFICATE----- \n", 1))
w("pem/pem_nul_byte.pem", cert[:40] + "\0" + cert[40:])
w("pem/pem_label_64_chars.pem", pem("A" * 64, b"\x30\x00"))
w("pem/pem_64_blocks.pem", "".join(pem("B%d" % n, bytes([n])) for n in range(64)))
w("pem/pem_65_blocks.pem", "".join(pem("B%d" % n, bytes([n])) for n in range(65)))
w("pem/pem_base64_only.txt", base64.b64encode(bytes(range(40))))
w("pem/pem_base64_noncanonical.txt", "QR==")
w("pem/pem_base64_one_pad.txt", "QUI=")
w("pem/pem_base64_misplaced_pad.txt", "QQ==QUJD")

# duration: ztca_duration_parse
for name, text in [
        ("90s", "90s"), ("15m", "15m"), ("8h", "8h"), ("7d", "7d"), ("1h30m", "1h30m"),
        ("1d2h3m4s", "1d2h3m4s"), ("max_36600d", "36600d"), ("over_max_36601d", "36601d"),
        ("max_in_seconds", "3162240000s"), ("zero", "0s"), ("zero_then_5s", "0d5s"),
        ("order_30m1h", "30m1h"), ("repeat_1h1h", "1h1h"), ("overflow_digits", "9" * 40 + "d"),
        ("no_unit", "5"), ("unit_only", "s"), ("negative", "-5m"), ("leading_space", " 5m"),
        ("uppercase", "5M"), ("leading_zeros", "0001h"), ("empty", ""),
        ("trailing_newline", "15m\n"), ("fraction", "1.5h"), ("week_unit", "2w")]:
    w("duration/duration_%s.txt" % name, text)

# cert: byte 0 profile (device, agent, workload, admin, server, ocsp), byte 1 attestation | key
# (bit 2: P-384) | TTL present (bit 3), bytes 2-5 TTL, bytes 6-9 time offset, then lines
def cert_seed(name, profile, lines, att=0, p384=False, ttl=None, offset=0):
    flags = att | (4 if p384 else 0) | (8 if ttl is not None else 0)
    b = bytes([profile, flags]) + (ttl or 0).to_bytes(4, "big") + offset.to_bytes(4, "big")
    w("cert/cert_%s.bin" % name, b + "\n".join(lines).encode())
cert_seed("device", 0, ["dev-abcdefghijklmnopqrstuvwxyz"], att=2)
cert_seed("device_p384_ttl_7d", 0, ["laptop-42"], att=3, p384=True, ttl=7 * 86400)
cert_seed("device_ttl_over_max", 0, ["laptop-42"], ttl=8 * 86400)
cert_seed("device_ttl_59s", 0, ["laptop-42"], ttl=59)
cert_seed("device_bad_name", 0, ["-leading-dash"])
cert_seed("device_name_65", 0, ["a" * 65])
cert_seed("device_crosses_2050", 0, ["laptop-42"], offset=213 * 86400 + 86000)
cert_seed("device_issuer_expired", 0, ["laptop-42"], offset=760 * 86400)
cert_seed("agent", 1, ["laptop-42", "alice"], att=1)
cert_seed("agent_no_user", 1, ["laptop-42"])
cert_seed("workload", 2, ["", "", "payments/api/v2"])
cert_seed("workload_200", 2, ["", "", "/".join(["s" * 49] * 4)])
cert_seed("workload_empty_segment", 2, ["", "", "a//b"])
cert_seed("admin", 3, ["", "admin.ops"])
cert_seed("server", 4, ["", "", "", "ca.example.org", "127.0.0.1", "::1", "localhost"])
cert_seed("server_33_hosts", 4, ["", "", ""] + ["h%d.example.org" % n for n in range(33)])
cert_seed("server_long_cn", 4, ["", "", "", ".".join(["l" * 60] * 4)])
cert_seed("server_bad_host", 4, ["", "", "", "bad_host!"])
cert_seed("ocsp", 5, [])
PY

# ---- config: ca_config_parse -----------------------------------------------------------------
cfg() { printf '%s\n' "$2" >"$out/config/$1.json"; }
cfg config_minimal '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_full '{
  "version": 1,
  "trust_domain": "corp.example.org",
  "public_url": "http://pki.corp.example.org:8080/ztca",
  "api_url": "https://pki.corp.example.org:8443",
  "key_type": "p384",
  "encrypted_keys": true,
  "store": "postgresql://ztca@db.corp.example.org/ztca"
}'
cfg config_identity_extension_off '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "identity_extension": false}'
cfg config_identity_extension_null '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "identity_extension": null}'
cfg config_ipv6 '{"version": 1, "trust_domain": "v6.example", "public_url": "http://[::1]:8080", "api_url": "https://[2001:db8::1]:8443", "key_type": "p256", "encrypted_keys": false}'
cfg config_unknown_members '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "api": {"listen": ["0.0.0.0:8443"], "workers": 8}, "trust": {"min_score": 0.7}}'
cfg config_version_2 '{"version": 2, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_version_string '{"version": "1", "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_bad_trust_domain '{"version": 1, "trust_domain": "Example..org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_duplicate_member '{"version": 1, "trust_domain": "example.org", "trust_domain": "evil.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_api_url_http '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "http://127.0.0.1:8443", "key_type": "p256"}'
cfg config_url_trailing_slash '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080/", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_url_query '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080/x?y=1", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_url_port_0 '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:0", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_key_type_rsa '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "rsa2048"}'
cfg config_encrypted_keys_string '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "encrypted_keys": "yes"}'
cfg config_nul_in_string '{"version": 1, "trust_domain": "example.org\u0000.evil", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256"}'
cfg config_unicode_store '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "store": "sqlite:///var/lib/ztca/\u00e9t\u00e9.db"}'
cfg config_long_trust_domain "{\"version\": 1, \"trust_domain\": \"$(printf 'a%.0s' {1..120}).$(printf 'b%.0s' {1..120})\", \"public_url\": \"http://127.0.0.1:8080\", \"api_url\": \"https://127.0.0.1:8443\", \"key_type\": \"p256\"}"
cfg config_crypto_backend_mbedtls '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "crypto_backend": "mbedtls"}'
cfg config_crypto_backend_openssl '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p384", "crypto_backend": "openssl"}'
cfg config_crypto_backend_unknown '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "crypto_backend": "gnutls"}'
cfg config_rate_limits '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_identity": {"rate": 0.5, "burst": 3}, "per_address": {"rate": 2, "burst": 6, "exempt_loopback": false}}}'
cfg config_rate_limits_off '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_identity": {"rate": 0}, "per_address": {"rate": 0, "exempt_loopback": true}}}'
cfg config_rate_limits_extremes '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_identity": {"rate": 0.001, "burst": 1000000}, "per_address": {"rate": 1e6, "burst": 1}}}'
cfg config_rate_limits_rate_negative '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_identity": {"rate": -1, "burst": 3}}}'
cfg config_rate_limits_rate_too_small '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_address": {"rate": 0.0001}}}'
cfg config_rate_limits_rate_string '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_identity": {"rate": "1/s"}}}'
cfg config_rate_limits_burst_zero '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_identity": {"rate": 1, "burst": 0}}}'
cfg config_rate_limits_burst_real '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_address": {"rate": 1, "burst": 1.5}}}'
cfg config_rate_limits_not_object '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": [1, 2]}'
cfg config_rate_limits_exempt_string '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0.0.1:8080", "api_url": "https://127.0.0.1:8443", "key_type": "p256", "rate_limits": {"per_address": {"exempt_loopback": "yes"}}}'
cfg config_not_object '["version", 1]'
cfg config_truncated '{"version": 1, "trust_domain": "example.org", "public_url": "http://127.0'

echo "seeds written to $out:"
for d in der csr pem key config duration cert; do
    printf '  %-10s %3d files, %6d bytes\n' "$d" "$(find "$out/$d" -type f | wc -l)" \
        "$(cat "$out/$d"/* | wc -c)"
done
