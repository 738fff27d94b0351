/* attest_check.c: runs attest/ on evidence files, for tests/integration/test_attest.sh. The test
 * driver does the file I/O the library must not do; everything it judges goes through the
 * public API of attest/attest.h.
 *
 * usage: attest_check COMMAND [--option value ...]
 *   name      --pub F                                 print the Name of a TPM2B_PUBLIC (hex)
 *   ak        --pub F                                 attestation-key policy
 *   ek        --roots F... --cert F [--pub F] [--chain F...] [--sha1]
 *   makecred  (--ek-pub F | --ek-cert F --roots F... [--sha1]) (--ak-pub F | --name-hex H)
 *             --secret F --out F                      tpm2-tools credential file
 *   secret    --expected F --returned F
 *   quote     --ak F --msg F --sig F --pcrs F --nonce HEX [--bank sha256] [--mask 0xff]
 *             [--policy F --class C [--baseline F] [--write-baseline F]]
 *   certify   --ak F --msg F --sig F --key F [--csr F] --nonce HEX
 * Prints "ok" or "reason=<attest_reason_name>" first, then key=value lines, including
 * "us=<microseconds>" spent in the library call. Exit 0: accepted, 1: refused, 2: usage or I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"

#define MAX_OPTS  32
#define FILE_MAX  ((size_t)1024 * 1024)
#define ROOTS_MAX 8

typedef struct opt {
    const char *key;
    const char *val;
} opt;

static opt opts[MAX_OPTS];
static size_t num_opts;

static const char *
get(const char *key)
{
    for (size_t i = 0; i < num_opts; i++) {
        if (strcmp(opts[i].key, key) == 0) {
            return opts[i].val;
        }
    }
    return NULL;
}

static size_t
get_all(const char *key, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < num_opts && n < max; i++) {
        if (strcmp(opts[i].key, key) == 0) {
            out[n++] = opts[i].val;
        }
    }
    return n;
}

static void
die(const char *msg, const char *arg)
{
    fprintf(stderr, "attest_check: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static uint8_t *
slurp(const char *path, size_t *out_len)
{
    if (path == NULL) {
        die("missing file option", NULL);
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        die("cannot open", path);
    }
    uint8_t *buf = malloc(FILE_MAX);
    if (buf == NULL) {
        die("out of memory", NULL);
    }
    size_t n = fread(buf, 1, FILE_MAX, f);
    fclose(f);
    *out_len = n;
    return buf;
}

static void
spit(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        die("cannot write", path);
    }
}

static double t0;

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
tic(void)
{
    t0 = now_us();
}

static long
toc(void)
{
    return (long)(now_us() - t0);
}

static int
verdict(ztca_rc rc, attest_reason why, long us)
{
    if (ZTCA_IS_OK(rc)) {
        printf("ok\nus=%ld\n", us);
        return 0;
    }
    printf("reason=%s\nus=%ld\nwhat=%s\nerr=%s\n", attest_reason_name(why), us, ztca_last_what(),
           ztca_err_name(rc.err));
    return 1;
}

static void
print_hex(const char *key, const uint8_t *p, size_t len)
{
    printf("%s=", key);
    for (size_t i = 0; i < len; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

static size_t
nonce_arg(uint8_t *out, size_t size)
{
    size_t n = 0;
    const char *hex = get("--nonce");
    if (hex == NULL || !ZTCA_IS_OK(ztca_hex_decode(out, size, &n, hex)) || n == 0) {
        die("bad or missing --nonce", hex);
    }
    return n;
}

static attest_roots *
roots_arg(void)
{
    const char *files[ROOTS_MAX];
    size_t n = get_all("--roots", files, ROOTS_MAX);
    attest_roots *roots = NULL;
    if (!ZTCA_IS_OK(
            attest_roots_new(&roots, get("--sha1") ? ATTEST_CHAIN_SHA1 : ATTEST_CHAIN_DEFAULT))) {
        die("attest_roots_new", NULL);
    }
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *pem = slurp(files[i], &len);
        if (!ZTCA_IS_OK(attest_roots_add(roots, pem, len))) {
            die("bad roots file", files[i]);
        }
        free(pem);
    }
    return roots;
}

/* ek: the same code path as enrollment: chain, EKU, EK public against the certificate. */
static ztca_rc
ek_from_cert(attest_ek *out, attest_reason *why, long *us)
{
    attest_roots *roots = roots_arg();
    size_t cert_len = 0, pub_len = 0, chain_lens[ROOTS_MAX];
    uint8_t *cert = slurp(get("--cert") ? get("--cert") : get("--ek-cert"), &cert_len);
    const char *pubf = get("--pub");
    uint8_t *pub = pubf ? slurp(pubf, &pub_len) : NULL;
    const char *chain_files[ROOTS_MAX];
    uint8_t *chain_bufs[ROOTS_MAX];
    const uint8_t *chain[ROOTS_MAX];
    size_t num_chain = get_all("--chain", chain_files, ROOTS_MAX);
    for (size_t i = 0; i < num_chain; i++) {
        chain_bufs[i] = slurp(chain_files[i], &chain_lens[i]);
        chain[i] = chain_bufs[i];
    }
    attest_ek_in in = { cert, cert_len, chain, chain_lens, num_chain, pub, pub_len };
    tic();
    ztca_rc rc = attest_ek_verify(out, why, roots, &in);
    *us = toc();
    for (size_t i = 0; i < num_chain; i++) {
        free(chain_bufs[i]);
    }
    free(cert);
    free(pub);
    attest_roots_free(roots);
    return rc;
}

static int
cmd_ek(void)
{
    attest_ek ek;
    attest_reason why;
    long us = 0;
    ztca_rc rc = ek_from_cert(&ek, &why, &us);
    int st = verdict(rc, why, us);
    if (st == 0) {
        printf("type=%s\nbits=%u\nname_alg=0x%04x\nsym_bits=%u\nfrom_public=%d\n",
               ek.key.type == ATTEST_KEY_RSA ? "rsa" : "ecc", ek.key.bits, ek.key.name_alg,
               ek.key.sym_bits, ek.from_public);
    }
    return st;
}

static int
cmd_key(bool ak)
{
    size_t len;
    uint8_t *pub = slurp(get("--pub"), &len);
    attest_key k;
    attest_reason why;
    tic();
    ztca_rc rc = ak ? attest_ak_parse(&k, &why, pub, len) : attest_key_parse(&k, &why, pub, len);
    long us = toc();
    free(pub);
    int st = verdict(rc, why, us);
    if (st == 0) {
        print_hex("name", k.name.bytes, k.name.len);
        printf("attributes=0x%08x\n", k.attributes);
    }
    return st;
}

static int
cmd_makecred(void)
{
    attest_ek ek;
    attest_reason why;
    long us = 0;
    ztca_rc rc;
    if (get("--ek-cert") != NULL) {
        rc = ek_from_cert(&ek, &why, &us);
    } else {
        size_t len;
        uint8_t *pub = slurp(get("--ek-pub"), &len);
        attest_key k;
        rc = attest_ek_public_parse(&k, &why, pub, len);
        if (ZTCA_IS_OK(rc)) {
            /* An EK known by its public area only: the pre-registered path. */
            rc = attest_ek_registered(&ek, &why, pub, len, k.spki, k.spki_len);
        }
        free(pub);
    }
    if (!ZTCA_IS_OK(rc)) {
        return verdict(rc, why, us);
    }
    attest_name name;
    memset(&name, 0, sizeof(name));
    if (get("--ak-pub") != NULL) {
        size_t len;
        uint8_t *pub = slurp(get("--ak-pub"), &len);
        attest_key ak;
        rc = attest_ak_parse(&ak, &why, pub, len);
        free(pub);
        if (!ZTCA_IS_OK(rc)) {
            return verdict(rc, why, 0);
        }
        name = ak.name;
    } else if (get("--name-hex") == NULL
               || !ZTCA_IS_OK(
                   ztca_hex_decode(name.bytes, sizeof(name.bytes), &name.len, get("--name-hex")))) {
        die("need --ak-pub or a valid --name-hex", NULL);
    }
    size_t secret_len;
    uint8_t *secret = slurp(get("--secret"), &secret_len);
    ca_rng *rng = NULL;
    if (!ZTCA_IS_OK(ca_rng_new(&rng))) {
        die("ca_rng_new", NULL);
    }
    attest_credential cred;
    tic();
    rc = attest_cred_make(&cred, &why, rng, &ek, &name, secret, secret_len);
    us = toc();
    ca_rng_free(rng);
    free(secret);
    int st = verdict(rc, why, us);
    if (st == 0) {
        /* tpm2-tools' credential file: BADCC0DE, version 1, TPM2B_ID_OBJECT,
         * TPM2B_ENCRYPTED_SECRET (tpm2-tools lib/files.c; ../shared/notes/TPM.md 3.3). */
        static const uint8_t hdr[8] = { 0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1 };
        uint8_t out[8 + ATTEST_ID_OBJECT_MAX + ATTEST_ENC_SECRET_MAX];
        memcpy(out, hdr, 8);
        memcpy(out + 8, cred.id_object, cred.id_object_len);
        memcpy(out + 8 + cred.id_object_len, cred.encrypted_secret, cred.encrypted_secret_len);
        const char *path = get("--out");
        if (path == NULL) {
            die("missing --out", NULL);
        }
        spit(path, out, 8 + cred.id_object_len + cred.encrypted_secret_len);
        printf("id_object_len=%zu\nencrypted_secret_len=%zu\n", cred.id_object_len,
               cred.encrypted_secret_len);
    }
    return st;
}

static int
cmd_secret(void)
{
    size_t a_len, b_len;
    uint8_t *a = slurp(get("--expected"), &a_len);
    uint8_t *b = slurp(get("--returned"), &b_len);
    attest_reason why;
    tic();
    ztca_rc rc = attest_cred_check(&why, a, a_len, b, b_len);
    long us = toc();
    free(a);
    free(b);
    return verdict(rc, why, us);
}

static attest_key
ak_arg(void)
{
    size_t len;
    uint8_t *pub = slurp(get("--ak"), &len);
    attest_key ak;
    attest_reason why;
    ztca_rc rc = attest_ak_parse(&ak, &why, pub, len);
    free(pub);
    if (!ZTCA_IS_OK(rc)) {
        exit(verdict(rc, why, 0));
    }
    return ak;
}

static int
pcr_policy(const attest_quote *q)
{
    size_t len;
    uint8_t *json = slurp(get("--policy"), &len);
    attest_pcr_policy *policy = NULL;
    attest_reason why;
    attest_pcr_bank base, *basep = NULL;
    if (!ZTCA_IS_OK(attest_pcr_policy_parse(&policy, &why, json, len))) {
        printf("policy=%s\n", attest_reason_name(why));
        free(json);
        return 2;
    }
    free(json);
    if (get("--baseline") != NULL) {
        uint8_t *b = slurp(get("--baseline"), &len);
        if (!ZTCA_IS_OK(attest_pcr_baseline_parse(&base, b, len))) {
            die("bad baseline", get("--baseline"));
        }
        free(b);
        basep = &base;
    }
    attest_pcr_verdict v;
    tic();
    ztca_rc rc = attest_pcr_evaluate(&v, policy, get("--class"), &q->pcrs, basep);
    long us = toc();
    attest_pcr_policy_free(policy);
    if (!ZTCA_IS_OK(rc)) {
        die("attest_pcr_evaluate", NULL);
    }
    static const char *const names[] = { "no_policy", "pass", "record", "fail" };
    printf("pcr_decision=%s\npcr_us=%ld\n", names[v.decision], us);
    if (v.matched[0] != '\0') {
        printf("pcr_matched=%s\n", v.matched);
    }
    for (size_t i = 0; i < v.num_findings; i++) {
        printf("pcr_finding=%s:%d\n", attest_reason_name(v.findings[i].reason), v.findings[i].pcr);
    }
    if (v.decision == ATTEST_PCR_RECORD && get("--write-baseline") != NULL) {
        char *s = NULL;
        size_t s_len = 0;
        if (!ZTCA_IS_OK(attest_pcr_baseline_encode(&s, &s_len, &q->pcrs))) {
            die("baseline encode", NULL);
        }
        spit(get("--write-baseline"), (const uint8_t *)s, s_len);
        free(s);
    }
    return v.decision == ATTEST_PCR_FAIL ? 1 : 0;
}

static int
cmd_quote(void)
{
    attest_key ak = ak_arg();
    size_t msg_len, sig_len, pcrs_len;
    uint8_t *msg = slurp(get("--msg"), &msg_len);
    uint8_t *sig = slurp(get("--sig"), &sig_len);
    uint8_t *pcrs = slurp(get("--pcrs"), &pcrs_len);
    uint8_t nonce[64];
    size_t nonce_len = nonce_arg(nonce, sizeof(nonce));
    const char *mask = get("--mask");
    attest_quote_in in = { msg,
                           msg_len,
                           sig,
                           sig_len,
                           pcrs,
                           pcrs_len,
                           nonce,
                           nonce_len,
                           ATTEST_ALG_SHA256,
                           mask ? (uint32_t)strtoul(mask, NULL, 0) : 0xff };
    if (get("--bank") != NULL && strcmp(get("--bank"), "sha384") == 0) {
        in.pcr_hash_alg = ATTEST_ALG_SHA384;
    }
    attest_quote q;
    attest_reason why;
    tic();
    ztca_rc rc = attest_quote_verify(&q, &why, &ak, &in);
    long us = toc();
    free(msg);
    free(sig);
    free(pcrs);
    int st = verdict(rc, why, us);
    if (st == 0) {
        printf("reset_count=%u\nrestart_count=%u\nclock=%llu\n", q.clock.reset_count,
               q.clock.restart_count, (unsigned long long)q.clock.clock);
        if (get("--policy") != NULL) {
            st = pcr_policy(&q);
        }
    }
    return st;
}

static int
cmd_certify(void)
{
    attest_key ak = ak_arg();
    size_t msg_len, sig_len, key_len, csr_len = 0;
    uint8_t *msg = slurp(get("--msg"), &msg_len);
    uint8_t *sig = slurp(get("--sig"), &sig_len);
    uint8_t *key = slurp(get("--key"), &key_len);
    uint8_t *csr = get("--csr") ? slurp(get("--csr"), &csr_len) : NULL;
    uint8_t nonce[64];
    size_t nonce_len = nonce_arg(nonce, sizeof(nonce));
    attest_certify_in in = { msg,     msg_len, sig,     sig_len, key,
                             key_len, csr,     csr_len, nonce,   nonce_len };
    attest_certify c;
    attest_reason why;
    tic();
    ztca_rc rc = attest_certify_verify(&c, &why, &ak, &in);
    long us = toc();
    free(msg);
    free(sig);
    free(key);
    free(csr);
    int st = verdict(rc, why, us);
    if (st == 0) {
        print_hex("key_name", c.key.name.bytes, c.key.name.len);
    }
    return st;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        die("usage: attest_check COMMAND [--option value ...]", NULL);
    }
    for (int i = 2; i < argc; i++) {
        if (num_opts == MAX_OPTS || strncmp(argv[i], "--", 2) != 0) {
            die("bad option", argv[i]);
        }
        opts[num_opts].key = argv[i];
        opts[num_opts].val = "";
        if (strcmp(argv[i], "--sha1") != 0) {
            if (i + 1 == argc) {
                die("option needs a value", argv[i]);
            }
            opts[num_opts].val = argv[++i];
        }
        num_opts++;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "name") == 0) {
        return cmd_key(false);
    }
    if (strcmp(cmd, "ak") == 0) {
        return cmd_key(true);
    }
    if (strcmp(cmd, "ek") == 0) {
        return cmd_ek();
    }
    if (strcmp(cmd, "makecred") == 0) {
        return cmd_makecred();
    }
    if (strcmp(cmd, "secret") == 0) {
        return cmd_secret();
    }
    if (strcmp(cmd, "quote") == 0) {
        return cmd_quote();
    }
    if (strcmp(cmd, "certify") == 0) {
        return cmd_certify();
    }
    die("unknown command", cmd);
    return 2;
}
