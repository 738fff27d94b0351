/* enroll_ek_allow.c: pre-registered EK public keys (DESIGN.md 3: "the EK certificate (or EK
 * public if pre-registered)"). Many VM vTPMs and some vendors ship no EK certificate; an operator
 * who knows the TPM (read its EK public at provisioning) vouches for it instead of a
 * manufacturer. The device record is created before the device ever calls, with the EK hash that
 * enrollment looks it up by, and its facts keep the key for attest_ek_registered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enroll/internal.h"

bool
enroll_facts_ek_registered(const char *facts)
{
    json_error_t err;
    if (facts == NULL) {
        return false;
    }
    json_t *o = json_loads(facts, JSON_REJECT_DUPLICATES, &err);
    const char *ek = json_string_value(json_object_get(o, "ek"));
    bool registered = ek != NULL && strcmp(ek, "registered") == 0;
    json_decref(o);
    return registered;
}

ztca_rc
enroll_facts_ek_spki(uint8_t **out, size_t *out_len, const char *facts)
{
    json_error_t err;
    *out = NULL;
    *out_len = 0;
    if (facts == NULL) {
        return ZTCA_RC_OK;
    }
    json_t *o = json_loads(facts, JSON_REJECT_DUPLICATES, &err);
    const json_t *v = json_object_get(o, "ek_spki");
    ztca_rc rc = ZTCA_RC_OK;
    if (json_is_string(v)) {
        rc = ztca_base64_decode(out, out_len, json_string_value(v), json_string_length(v));
        if (ZTCA_IS_OK(rc) && (*out_len == 0 || *out_len > ATTEST_SPKI_MAX)) {
            ztca_free(*out);
            *out = NULL;
            *out_len = 0;
            rc = ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "facts: ek_spki of a wrong size", 0);
        }
    } else if (v != NULL) {
        rc = ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "facts: ek_spki is not a string", 0);
    }
    json_decref(o);
    return rc;
}

static bool
enroll_allow_set(json_t *o, const char *key, json_t *v)
{
    return v != NULL && json_object_set_new(o, key, v) == 0;
}

/* The facts of a pre-registered device: who vouched for its EK and when, the key itself, and the
 * operator's own note and facts (kept apart from what attestation records). */
static ztca_rc
enroll_allow_facts(char **out, const enroll_ek_allow_req *req, const attest_key *ek)
{
    ztca_rc rc = ZTCA_RC_OK;
    char when[32];
    char *spki = NULL, *text = NULL;
    size_t spki_len = 0;
    json_error_t err;
    json_t *o = json_object();
    ZTCA_REQUIRE(o != NULL, ZTCA_ERR_NOMEM, "facts: out of memory");
    ZTCA_CHECK(ztca_time_format_rfc3339(when, sizeof(when), ztca_now()));
    ZTCA_CHECK(ztca_base64_encode(&spki, &spki_len, ek->spki, ek->spki_len));
    bool ok = enroll_allow_set(o, "ek", json_string("registered"))
              && enroll_allow_set(o, "ek_registered_by", json_string(req->actor))
              && enroll_allow_set(o, "ek_registered_at", json_string(when))
              && enroll_allow_set(o, "ek_spki", json_string(spki));
    if (ok && req->note != NULL) {
        ok = enroll_allow_set(o, "note", json_string(req->note));
    }
    if (ok && req->facts != NULL) {
        json_t *f = json_loads(req->facts, JSON_REJECT_DUPLICATES, &err);
        ZTCA_REQUIRE(json_is_object(f), ZTCA_ERR_BAD_INPUT, "facts must be a JSON object");
        ok = enroll_allow_set(o, "operator", f);
    }
    ZTCA_REQUIRE(ok, ZTCA_ERR_NOMEM, "facts: out of memory");
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    ZTCA_REQUIRE(text != NULL, ZTCA_ERR_NOMEM, "facts: out of memory");
    *out = text;
out:
    ztca_free(spki);
    json_decref(o);
    return rc;
}

ztca_rc
enroll_ek_allow(const enroll_env *env, const enroll_ek_allow_req *req, char *out_id, size_t id_size,
                attest_reason *out_reason)
{
    ztca_rc rc = ZTCA_RC_OK;
    attest_key ek;
    attest_reason ar = ATTEST_OK;
    char id[CA_NAME_MAX + 1];
    char *facts = NULL;
    store_device dev;
    store_device_init(&dev);
    if (out_reason != NULL) {
        *out_reason = ATTEST_OK;
    }
    ZTCA_REQUIRE(req->actor != NULL && req->actor[0] != '\0', ZTCA_ERR_INTERNAL, "allow: no actor");
    ZTCA_REQUIRE(id_size >= sizeof(id), ZTCA_ERR_INTERNAL, "allow: id buffer");
    /* The same template policy as at enrollment: a key that could never pass attest_ek_registered
     * (a signing key, an AK) is refused now rather than when the device calls. */
    rc = attest_ek_public_parse(&ek, &ar, req->ek_public, req->ek_public_len);
    if (!ZTCA_IS_OK(rc)) {
        if (out_reason != NULL) {
            *out_reason = ar;
        }
        goto out;
    }
    ZTCA_CHECK(
        enroll_ek_identity(dev.ek_pub_hash, id, sizeof(id), req->ek_public, req->ek_public_len));
    ZTCA_CHECK(enroll_allow_facts(&facts, req, &ek));
    snprintf(dev.id, sizeof(dev.id), "%s", id);
    dev.has_ek = true;
    dev.facts = facts;
    store_audit_event ev = { .actor = req->actor,
                             .action = "device.allow",
                             .subject = id,
                             .detail = "{\"ek\":\"registered\"}" };
    /* CONFLICT when the id or the EK hash is taken: both come from this EK. */
    ZTCA_CHECK(store_device_insert(env->st, &dev, &ev));
    snprintf(out_id, id_size, "%s", id);
out:
    dev.facts = NULL; /* ours, not the store's */
    store_device_free(&dev);
    free(facts);
    return rc;
}
