/* Target: enroll_oidc_verify (enroll/enroll_oidc.c) with enroll_jws_verify, enroll_b64url_decode
 * and enroll_jwt_peek_issuer; and enroll_oidc_check_claims on the same bytes as a payload.
 * Why: the bearer token of POST /v1/certs is the first thing an unauthenticated CI job sends.
 *
 * The JWKS and the provisioner are tests/data/oidc's (regen.py), loaded once; the clock is
 * regen.py's NOW, so the corpus tokens (tests/fuzz/corpus/jwt/, signed by those keys) reach the
 * claim checks. Mutated tokens rarely keep a valid signature, so every input is also run as a
 * verified payload through the claim checks directly. Invariants (abort() otherwise): a refusal
 * is DENIED with a reason, success has none; an accepted token gives a URI under
 * spiffe://corp.example/workload/ that ca_spiffe_parse reads back, a 64-hex replay key, parseable
 * claims JSON; base64url decode-encode round-trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "enroll/enroll.h"
#include "enroll/internal.h"

#define FUZZ_NOW ((ztca_time)1790000000)
#define FUZZ_TD  "corp.example"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enroll_jwks *fuzz_keys;
static enroll_provisioner fuzz_prov;

static uint8_t *
fuzz_read(const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", ZTCA_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    uint8_t *buf = malloc(ZTCA_PEM_MAX);
    *len = buf != NULL ? fread(buf, 1, ZTCA_PEM_MAX, f) : 0;
    fclose(f);
    return buf;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    size_t len = 0;
    uint8_t *p = fuzz_read("tests/data/oidc/jwks.json", &len);
    if (p == NULL || !ZTCA_IS_OK(enroll_jwks_parse(&fuzz_keys, p, len))) {
        abort();
    }
    free(p);
    p = fuzz_read("tests/data/oidc/provisioner.json", &len);
    enroll_provisioner_init(&fuzz_prov);
    if (p == NULL || !ZTCA_IS_OK(enroll_provisioner_parse(&fuzz_prov, p, len))) {
        abort();
    }
    free(p);
    return 0;
}

static void
fuzz_check_verdict(ztca_rc rc, const enroll_failure *f, const enroll_verdict *v)
{
    if (!ZTCA_IS_OK(rc)) {
        if ((rc.err == ZTCA_ERR_DENIED) != (f->reason != ENROLL_REASON_NONE)) {
            abort(); /* a refusal always has a reason, and only a refusal */
        }
        if (v->claims_json != NULL || v->uri[0] != '\0') {
            abort(); /* nothing written on failure */
        }
        return;
    }
    ca_spiffe id;
    size_t n;
    json_error_t err;
    json_t *claims = json_loads(v->claims_json, 0, &err);
    if (f->reason != ENROLL_REASON_NONE || claims == NULL || !json_is_object(claims)
        || strncmp(v->uri, "spiffe://" FUZZ_TD "/workload/", 30) != 0
        || !ZTCA_IS_OK(ca_spiffe_parse(&id, v->uri, FUZZ_TD)) || id.kind != CA_PROFILE_WORKLOAD
        || strcmp(id.workload, v->workload) != 0 || !ca_workload_path_is_valid(v->workload)
        || strlen(v->replay_key) != ENROLL_REPLAY_KEY_LEN || v->replay_until < v->expires
        || v->expires + fuzz_prov.clock_skew <= FUZZ_NOW || v->subject[0] == '\0') {
        abort();
    }
    for (n = 0; v->workload[n] != '\0'; n++) {
        if (strchr("%?#:@ ", v->workload[n]) != NULL) {
            abort(); /* the character rules let nothing of that through */
        }
    }
    json_decref(claims);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enroll_verdict v;
    enroll_failure f;
    const char *tok = (const char *)data;

    /* As a token. */
    enroll_verdict_init(&v);
    ztca_rc rc = enroll_oidc_verify(&v, &f, &fuzz_prov, fuzz_keys, FUZZ_TD, tok, size, FUZZ_NOW);
    fuzz_check_verdict(rc, &f, &v);
    enroll_verdict_free(&v);

    char iss[ENROLL_URL_MAX + 1];
    if (ZTCA_IS_OK(enroll_jwt_peek_issuer(iss, sizeof(iss), tok, size)) && iss[0] == '\0') {
        abort(); /* "iss" is a non-empty string when the peek succeeds */
    }

    /* As one base64url value. */
    uint8_t *dec = NULL;
    size_t dec_len = 0;
    if (ZTCA_IS_OK(enroll_b64url_decode(&dec, &dec_len, tok, size))) {
        char *enc = NULL;
        size_t enc_len = 0;
        if (!ZTCA_IS_OK(enroll_b64url_encode(&enc, &enc_len, dec, dec_len)) || enc_len != size
            || memcmp(enc, data, size) != 0) {
            abort(); /* strict means one encoding per value */
        }
        free(enc);
    }
    free(dec);

    /* As the payload of a token whose signature verified. */
    if (size <= ENROLL_TOKEN_MAX) {
        enroll_jws jws;
        enroll_jws_init(&jws);
        jws.alg = ENROLL_ALG_RS256;
        jws.payload = malloc(size > 0 ? size : 1);
        if (jws.payload == NULL) {
            return 0;
        }
        memcpy(jws.payload, data, size);
        jws.payload_len = size;
        enroll_failure_init(&f);
        enroll_verdict_init(&v);
        rc = enroll_oidc_check_claims(&v, &f, &fuzz_prov, FUZZ_TD, &jws, FUZZ_NOW);
        fuzz_check_verdict(rc, &f, &v);
        enroll_verdict_free(&v);
        enroll_jws_free(&jws);
    }
    return 0;
}
