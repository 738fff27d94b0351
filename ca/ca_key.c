/* ca_key.c: ztca's own ECDSA keys: generation and PKCS#8 files, plain or encrypted.
 * mbedTLS 2.28 writes only SEC1 keys and its PBES2 knows DES ciphers only, so the PKCS#8 and
 * PBES2 structures are ours, on the DER reader and writer; PBKDF2, AES and the key encoding are
 * mbedTLS's. */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/cipher.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include "ca/internal.h"

#define CA_OID_AES128_CBC MBEDTLS_OID_AES "\x02"
#define CA_OID_AES192_CBC MBEDTLS_OID_AES "\x16"
#define CA_OID_AES256_CBC MBEDTLS_OID_AES "\x2a"

#define CA_PBKDF2_MAX_ITER 10000000 /* bounds the work an attacker-supplied key file can cause */
#define CA_SALT_LEN        16
#define CA_IV_LEN          16

ztca_rc
ca_key_type_parse(ca_key_type *out, const char *s)
{
    if (strcmp(s, "p256") == 0) {
        *out = CA_KEY_P256;
    } else if (strcmp(s, "p384") == 0) {
        *out = CA_KEY_P384;
    } else {
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "key type must be p256 or p384");
    }
    return ZTCA_RC_OK;
}

const char *
ca_key_type_name(ca_key_type t)
{
    return t == CA_KEY_P384 ? "p384" : "p256";
}

static ca_key *
ca_key_alloc(void)
{
    ca_key *key = ztca_calloc(1, sizeof(*key));
    if (key != NULL) {
        mbedtls_pk_init(&key->pk);
    }
    return key;
}

void
ca_key_free(ca_key *key)
{
    if (key == NULL) {
        return;
    }
    mbedtls_pk_free(&key->pk); /* zeroizes the private scalar */
    free(key);
}

ca_key_type
ca_key_get_type(const ca_key *key)
{
    return key->type;
}

ztca_rc
ca_key_generate(ca_key **out, ca_rng *rng, ca_key_type type)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_key *key = ca_key_alloc();
    ZTCA_ENSURE(key != NULL, ZTCA_ERR_NOMEM, "key: out of memory");
    mbedtls_ecp_group_id gid =
        type == CA_KEY_P384 ? MBEDTLS_ECP_DP_SECP384R1 : MBEDTLS_ECP_DP_SECP256R1;
    ZTCA_CHECK_MBEDTLS(mbedtls_pk_setup(&key->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)),
                       ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_ecp_gen_key(gid, mbedtls_pk_ec(key->pk), ca_rng_mbedtls, rng),
                       ZTCA_ERR_CRYPTO);
    key->type = type;
    *out = key;
    key = NULL;
out:
    ca_key_free(key);
    return rc;
}

ztca_rc
ca_key_spki(const ca_key *key, uint8_t **out, size_t *out_len)
{
    uint8_t buf[256];
    /* mbedtls_pk_write_* write at the end of the buffer and return the length. */
    int n =
        mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)(uintptr_t)&key->pk, buf, sizeof(buf));
    ZTCA_ENSURE(n > 0, ZTCA_ERR_CRYPTO, "key: encoding the public key failed");
    uint8_t *der = ztca_malloc((size_t)n);
    ZTCA_ENSURE(der != NULL, ZTCA_ERR_NOMEM, "key: out of memory");
    memcpy(der, buf + sizeof(buf) - (size_t)n, (size_t)n);
    *out = der;
    *out_len = (size_t)n;
    return ZTCA_RC_OK;
}

/* PrivateKeyInfo ::= SEQUENCE { version Version (0), privateKeyAlgorithm AlgorithmIdentifier,
 *                               privateKey OCTET STRING }          (RFC 5208 5, RFC 5915 3) */
static ztca_rc
ca_key_pkcs8(der_buf *b, const ca_key *key)
{
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t sec1[512];
    int n = mbedtls_pk_write_key_der((mbedtls_pk_context *)(uintptr_t)&key->pk, sec1, sizeof(sec1));
    ZTCA_REQUIRE(n > 0, ZTCA_ERR_CRYPTO, "key: encoding the private key failed");
    ZTCA_CHECK(der_begin(b, DER_SEQUENCE));
    ZTCA_CHECK(der_add_uint64(b, 0));
    ZTCA_CHECK(der_begin(b, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(b, MBEDTLS_OID_EC_ALG_UNRESTRICTED));
    if (key->type == CA_KEY_P384) {
        ZTCA_CHECK(DER_ADD_OID(b, MBEDTLS_OID_EC_GRP_SECP384R1));
    } else {
        ZTCA_CHECK(DER_ADD_OID(b, MBEDTLS_OID_EC_GRP_SECP256R1));
    }
    ZTCA_CHECK(der_end(b));
    ZTCA_CHECK(der_add_tlv(b, DER_OCTETSTRING, sec1 + sizeof(sec1) - (size_t)n, (size_t)n));
    ZTCA_CHECK(der_end(b));
out:
    mbedtls_platform_zeroize(sec1, sizeof(sec1));
    return rc;
}

static ztca_rc
ca_pbkdf2(ca_md prf, const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
          uint32_t iter, uint8_t *key, size_t key_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(ca_md_to_mbedtls(prf));
    ZTCA_REQUIRE(info != NULL, ZTCA_ERR_INTERNAL, "PBKDF2: digest");
    ZTCA_CHECK_MBEDTLS(mbedtls_md_setup(&md, info, 1), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_pkcs5_pbkdf2_hmac(&md, pass, pass_len, salt, salt_len, iter,
                                                 (uint32_t)key_len, key),
                       ZTCA_ERR_CRYPTO);
out:
    mbedtls_md_free(&md);
    return rc;
}

/* AES-CBC with PKCS#7 padding (RFC 8018 6.2, B.2.5). */
static ztca_rc
ca_aes_cbc(bool encrypt, const uint8_t *key, size_t key_len, const uint8_t iv[CA_IV_LEN],
           const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    mbedtls_cipher_context_t c;
    mbedtls_cipher_init(&c);
    mbedtls_cipher_type_t type = key_len == 16   ? MBEDTLS_CIPHER_AES_128_CBC
                                 : key_len == 24 ? MBEDTLS_CIPHER_AES_192_CBC
                                                 : MBEDTLS_CIPHER_AES_256_CBC;
    size_t n = 0;
    ZTCA_CHECK_MBEDTLS(mbedtls_cipher_setup(&c, mbedtls_cipher_info_from_type(type)),
                       ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_cipher_setkey(&c, key, (int)(key_len * 8),
                                             encrypt ? MBEDTLS_ENCRYPT : MBEDTLS_DECRYPT),
                       ZTCA_ERR_CRYPTO);
    int r = mbedtls_cipher_crypt(&c, iv, CA_IV_LEN, in, in_len, out, &n);
    /* A wrong passphrase shows up as bad padding (or, 1 in 256, as garbage the key parser
     * refuses later). */
    ZTCA_REQUIRE(r == 0, encrypt ? ZTCA_ERR_CRYPTO : ZTCA_ERR_DENIED,
                 "encrypted key: wrong passphrase or corrupt key");
    *out_len = n;
out:
    mbedtls_cipher_free(&c);
    return rc;
}

/* EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier {{PBES2}},
 *                                        encryptedData OCTET STRING }     (RFC 5958 3)
 * PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier {{PBKDF2}},
 *                             encryptionScheme AlgorithmIdentifier }      (RFC 8018 A.4)
 * PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER (1..MAX),
 *                   keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 } */
static ztca_rc
ca_key_encrypt(der_buf *out, const uint8_t *plain, size_t plain_len, ca_rng *rng,
               const uint8_t *pass, size_t pass_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t salt[CA_SALT_LEN];
    uint8_t iv[CA_IV_LEN];
    uint8_t key[32];
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    enc = ztca_malloc(plain_len + CA_IV_LEN);
    ZTCA_REQUIRE(enc != NULL, ZTCA_ERR_NOMEM, "encrypted key: out of memory");
    ZTCA_CHECK(ca_rng_bytes(rng, salt, sizeof(salt)));
    ZTCA_CHECK(ca_rng_bytes(rng, iv, sizeof(iv)));
    ZTCA_CHECK(ca_pbkdf2(CA_MD_SHA256, pass, pass_len, salt, sizeof(salt), CA_KEY_PBKDF2_ITER, key,
                         sizeof(key)));
    ZTCA_CHECK(ca_aes_cbc(true, key, sizeof(key), iv, plain, plain_len, enc, &enc_len));

    ZTCA_CHECK(der_begin(out, DER_SEQUENCE));
    ZTCA_CHECK(der_begin(out, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(out, MBEDTLS_OID_PKCS5_PBES2));
    ZTCA_CHECK(der_begin(out, DER_SEQUENCE));
    ZTCA_CHECK(der_begin(out, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(out, MBEDTLS_OID_PKCS5_PBKDF2));
    ZTCA_CHECK(der_begin(out, DER_SEQUENCE));
    ZTCA_CHECK(der_add_tlv(out, DER_OCTETSTRING, salt, sizeof(salt)));
    ZTCA_CHECK(der_add_uint64(out, CA_KEY_PBKDF2_ITER));
    ZTCA_CHECK(der_begin(out, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(out, MBEDTLS_OID_HMAC_SHA256));
    ZTCA_CHECK(der_add_null(out));
    ZTCA_CHECK(der_end(out));
    ZTCA_CHECK(der_end(out));
    ZTCA_CHECK(der_end(out));
    ZTCA_CHECK(der_begin(out, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(out, CA_OID_AES256_CBC));
    ZTCA_CHECK(der_add_tlv(out, DER_OCTETSTRING, iv, sizeof(iv)));
    ZTCA_CHECK(der_end(out));
    ZTCA_CHECK(der_end(out));
    ZTCA_CHECK(der_end(out));
    ZTCA_CHECK(der_add_tlv(out, DER_OCTETSTRING, enc, enc_len));
    ZTCA_CHECK(der_end(out));
out:
    mbedtls_platform_zeroize(key, sizeof(key));
    ztca_free_secret(enc, plain_len + CA_IV_LEN);
    return rc;
}

static ztca_rc
ca_key_decrypt(uint8_t **out, size_t *out_len, const uint8_t *der, size_t der_len,
               const uint8_t *pass, size_t pass_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_cur c = der_cur_make(der, der_len);
    der_cur epki = { 0 }, alg = { 0 }, oid = { 0 }, pbes2 = { 0 }, kdf = { 0 };
    der_cur kdf_params = { 0 }, salt = { 0 }, scheme = { 0 }, iv = { 0 }, data = { 0 };
    der_cur prf = { 0 };
    uint64_t iter = 0;
    uint64_t key_len_field = 0;
    bool present = false;
    ca_md prf_md = CA_MD_SHA1; /* RFC 8018 A.2: the DEFAULT */
    size_t key_len = 0;
    uint8_t key[32];
    uint8_t *plain = NULL;
    size_t plain_len = 0;

    ZTCA_CHECK(der_get(&c, &epki, DER_SEQUENCE));
    ZTCA_CHECK(der_expect_end(&c));
    ZTCA_CHECK(der_get(&epki, &alg, DER_SEQUENCE));
    ZTCA_CHECK(der_get(&epki, &data, DER_OCTETSTRING));
    ZTCA_CHECK(der_expect_end(&epki));
    ZTCA_CHECK(der_get_oid(&alg, &oid));
    ZTCA_REQUIRE(DER_OID_IS(&oid, MBEDTLS_OID_PKCS5_PBES2), ZTCA_ERR_UNSUPPORTED,
                 "encrypted key: only PBES2 (RFC 8018) is supported");
    ZTCA_CHECK(der_get(&alg, &pbes2, DER_SEQUENCE));
    ZTCA_CHECK(der_expect_end(&alg));

    ZTCA_CHECK(der_get(&pbes2, &kdf, DER_SEQUENCE));
    ZTCA_CHECK(der_get(&pbes2, &scheme, DER_SEQUENCE));
    ZTCA_CHECK(der_expect_end(&pbes2));

    ZTCA_CHECK(der_get_oid(&kdf, &oid));
    ZTCA_REQUIRE(DER_OID_IS(&oid, MBEDTLS_OID_PKCS5_PBKDF2), ZTCA_ERR_UNSUPPORTED,
                 "encrypted key: only PBKDF2 is supported");
    ZTCA_CHECK(der_get(&kdf, &kdf_params, DER_SEQUENCE));
    ZTCA_CHECK(der_expect_end(&kdf));
    ZTCA_CHECK(der_get(&kdf_params, &salt, DER_OCTETSTRING));
    ZTCA_CHECK(der_get_uint64(&kdf_params, &iter));
    ZTCA_REQUIRE(iter >= 1 && iter <= CA_PBKDF2_MAX_ITER, ZTCA_ERR_UNSUPPORTED,
                 "encrypted key: PBKDF2 iteration count out of range");
    if (der_peek_tag(&kdf_params, DER_INTEGER)) {
        ZTCA_CHECK(der_get_uint64(&kdf_params, &key_len_field));
    }
    ZTCA_CHECK(der_get_optional(&kdf_params, &prf, &present, DER_SEQUENCE));
    ZTCA_CHECK(der_expect_end(&kdf_params));
    if (present) {
        ZTCA_CHECK(der_get_oid(&prf, &oid));
        if (DER_OID_IS(&oid, MBEDTLS_OID_HMAC_SHA1)) {
            prf_md = CA_MD_SHA1;
        } else if (DER_OID_IS(&oid, MBEDTLS_OID_HMAC_SHA256)) {
            prf_md = CA_MD_SHA256;
        } else if (DER_OID_IS(&oid, MBEDTLS_OID_HMAC_SHA384)) {
            prf_md = CA_MD_SHA384;
        } else if (DER_OID_IS(&oid, MBEDTLS_OID_HMAC_SHA512)) {
            prf_md = CA_MD_SHA512;
        } else {
            ZTCA_REQUIRE(false, ZTCA_ERR_UNSUPPORTED, "encrypted key: unsupported PBKDF2 PRF");
        }
        if (prf.len > 0) {
            ZTCA_CHECK(der_get_null(&prf));
        }
        ZTCA_CHECK(der_expect_end(&prf));
    }

    ZTCA_CHECK(der_get_oid(&scheme, &oid));
    if (DER_OID_IS(&oid, CA_OID_AES128_CBC)) {
        key_len = 16;
    } else if (DER_OID_IS(&oid, CA_OID_AES192_CBC)) {
        key_len = 24;
    } else if (DER_OID_IS(&oid, CA_OID_AES256_CBC)) {
        key_len = 32;
    } else {
        ZTCA_REQUIRE(false, ZTCA_ERR_UNSUPPORTED,
                     "encrypted key: cipher must be AES-128/192/256-CBC");
    }
    ZTCA_REQUIRE(key_len_field == 0 || key_len_field == key_len, ZTCA_ERR_BAD_INPUT,
                 "encrypted key: PBKDF2 keyLength does not match the cipher");
    ZTCA_CHECK(der_get(&scheme, &iv, DER_OCTETSTRING));
    ZTCA_CHECK(der_expect_end(&scheme));
    ZTCA_REQUIRE(iv.len == CA_IV_LEN, ZTCA_ERR_BAD_INPUT, "encrypted key: IV must be 16 bytes");
    ZTCA_REQUIRE(salt.len >= 8 && salt.len <= 64, ZTCA_ERR_BAD_INPUT,
                 "encrypted key: salt length out of range");
    ZTCA_REQUIRE(data.len > 0 && data.len % 16 == 0, ZTCA_ERR_BAD_INPUT,
                 "encrypted key: ciphertext is not whole AES blocks");
    ZTCA_REQUIRE(pass != NULL && pass_len > 0, ZTCA_ERR_DENIED,
                 "encrypted key: a passphrase is required (--passphrase-file)");

    plain = ztca_malloc(data.len + CA_IV_LEN);
    ZTCA_REQUIRE(plain != NULL, ZTCA_ERR_NOMEM, "encrypted key: out of memory");
    ZTCA_CHECK(ca_pbkdf2(prf_md, pass, pass_len, salt.p, salt.len, (uint32_t)iter, key, key_len));
    ZTCA_CHECK(ca_aes_cbc(false, key, key_len, iv.p, data.p, data.len, plain, &plain_len));
    *out = plain;
    *out_len = plain_len;
    plain = NULL;
out:
    mbedtls_platform_zeroize(key, sizeof(key));
    ztca_free_secret(plain, data.len + CA_IV_LEN);
    return rc;
}

ztca_rc
ca_key_write_pem(char **out, size_t *out_len, const ca_key *key, ca_rng *rng, const uint8_t *pass,
                 size_t pass_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf plain, enc;
    der_buf_init(&plain, CA_KEY_MAX);
    der_buf_init(&enc, CA_KEY_MAX);
    uint8_t *der = NULL;
    size_t der_len = 0;
    uint8_t *edata = NULL;
    size_t edata_len = 0;

    ZTCA_CHECK(ca_key_pkcs8(&plain, key));
    ZTCA_CHECK(der_buf_take(&plain, &der, &der_len));
    if (pass_len == 0) {
        ZTCA_CHECK(ztca_pem_encode(out, out_len, "PRIVATE KEY", der, der_len));
        goto out;
    }
    ZTCA_CHECK(ca_key_encrypt(&enc, der, der_len, rng, pass, pass_len));
    ZTCA_CHECK(der_buf_take(&enc, &edata, &edata_len));
    ZTCA_CHECK(ztca_pem_encode(out, out_len, "ENCRYPTED PRIVATE KEY", edata, edata_len));
out:
    ztca_free_secret(der, der_len);
    ztca_free(edata);
    der_buf_free(&plain);
    der_buf_free(&enc);
    return rc;
}

static ztca_rc
ca_key_from_der(ca_key *key, const uint8_t *der, size_t der_len)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    int r = mbedtls_pk_parse_key(&key->pk, der, der_len, NULL, 0, NULL, NULL);
#else
    int r = mbedtls_pk_parse_key(&key->pk, der, der_len, NULL, 0);
#endif
    ZTCA_ENSURE(r == 0, ZTCA_ERR_BAD_INPUT, "key: not a valid private key");
    mbedtls_pk_type_t t = mbedtls_pk_get_type(&key->pk);
    ZTCA_ENSURE(t == MBEDTLS_PK_ECKEY, ZTCA_ERR_UNSUPPORTED,
                "key: ztca's own keys are ECDSA P-256 or P-384");
    mbedtls_ecp_group_id gid = mbedtls_pk_ec(key->pk)->grp.id;
    ZTCA_ENSURE(gid == MBEDTLS_ECP_DP_SECP256R1 || gid == MBEDTLS_ECP_DP_SECP384R1,
                ZTCA_ERR_UNSUPPORTED, "key: ztca's own keys are ECDSA P-256 or P-384");
    /* mbedTLS takes the public point as written in the file: a corrupted scalar or point would
     * give a signer that signs with one key while naming another (BoringSSL checks too). */
#if MBEDTLS_VERSION_MAJOR >= 3
    int pair =
        mbedtls_ecp_check_pub_priv(mbedtls_pk_ec(key->pk), mbedtls_pk_ec(key->pk), NULL, NULL);
#else
    int pair = mbedtls_ecp_check_pub_priv(mbedtls_pk_ec(key->pk), mbedtls_pk_ec(key->pk));
#endif
    ZTCA_ENSURE(pair == 0, ZTCA_ERR_BAD_INPUT, "key: public key does not match the private key");
    key->type = gid == MBEDTLS_ECP_DP_SECP384R1 ? CA_KEY_P384 : CA_KEY_P256;
    return ZTCA_RC_OK;
}

ztca_rc
ca_key_parse(ca_key **out, const uint8_t *pem, size_t pem_len, const uint8_t *pass, size_t pass_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ztca_pem_list list;
    ztca_pem_list_init(&list);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    ca_key *key = NULL;

    ZTCA_REQUIRE(pem_len <= CA_KEY_MAX, ZTCA_ERR_BAD_INPUT, "key: file too large");
    ZTCA_CHECK(ztca_pem_decode_all(&list, pem, pem_len));
    ZTCA_REQUIRE(list.num_blocks == 1, ZTCA_ERR_BAD_INPUT, "key: expected exactly one PEM block");
    key = ca_key_alloc();
    ZTCA_REQUIRE(key != NULL, ZTCA_ERR_NOMEM, "key: out of memory");
    const ztca_pem_block *blk = &list.blocks[0];
    if (strcmp(blk->label, "ENCRYPTED PRIVATE KEY") == 0) {
        ZTCA_CHECK(ca_key_decrypt(&plain, &plain_len, blk->der, blk->der_len, pass, pass_len));
        rc = ca_key_from_der(key, plain, plain_len);
        /* Garbage that passed the padding check is still a wrong passphrase to the user. */
        ZTCA_REQUIRE(rc.err != ZTCA_ERR_BAD_INPUT, ZTCA_ERR_DENIED,
                     "encrypted key: wrong passphrase or corrupt key");
        ZTCA_CHECK(rc);
    } else if (strcmp(blk->label, "PRIVATE KEY") == 0
               || strcmp(blk->label, "EC PRIVATE KEY") == 0) {
        ZTCA_CHECK(ca_key_from_der(key, blk->der, blk->der_len));
    } else {
        ZTCA_REQUIRE(false, ZTCA_ERR_BAD_INPUT, "key: PEM block is not a private key");
    }
    *out = key;
    key = NULL;
out:
    ca_key_free(key);
    ztca_free_secret(plain, plain_len);
    ztca_pem_list_free(&list);
    return rc;
}
