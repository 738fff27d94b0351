/* Target: ca_config_parse (ca/ca_config.c), with ca_config_write as a round-trip oracle.
 * Why: DIR/ztca.conf is JSON edited by hand and read at every start; its URL and trust-domain
 * checks decide what goes into every certificate's SAN, AIA and CRL distribution point.
 *
 * A config that parses is written and parsed again: an equal ca_config, or abort(). The rate
 * limits it accepts must keep api_ratelimit_take's arithmetic in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Field by field: struct padding is not part of the value. */
static bool
fuzz_config_equal(const ca_config *a, const ca_config *b)
{
    return strcmp(a->trust_domain, b->trust_domain) == 0
           && strcmp(a->public_url, b->public_url) == 0 && strcmp(a->api_url, b->api_url) == 0
           && a->key_type == b->key_type && a->encrypted_keys == b->encrypted_keys
           && strcmp(a->store, b->store) == 0 && a->identity_extension == b->identity_extension
           && a->ocsp_validity == b->ocsp_validity && a->ocsp_max_age == b->ocsp_max_age
           && a->ocsp_cache_entries == b->ocsp_cache_entries
           && a->ocsp_renew_before == b->ocsp_renew_before && a->crl_validity == b->crl_validity
           && a->crypto_backend == b->crypto_backend
           && a->rate_identity.rate == b->rate_identity.rate
           && a->rate_identity.burst == b->rate_identity.burst
           && a->rate_address.rate == b->rate_address.rate
           && a->rate_address.burst == b->rate_address.burst
           && a->rate_exempt_loopback == b->rate_exempt_loopback;
}

/* What api_ratelimit_take relies on to stay clear of overflow. */
static bool
fuzz_config_rate_ok(const ca_rate_limit *l)
{
    return (l->rate == 0 || (l->rate >= CA_RATE_MIN && l->rate <= CA_RATE_MAX)) && l->burst >= 1
           && l->burst <= CA_BURST_MAX;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ca_config cfg, again;
    char *out = NULL;
    size_t out_len = 0;
    if (!ZTCA_IS_OK(ca_config_parse(&cfg, data, size))) {
        return 0;
    }
    /* What the parser accepted must satisfy the checks the issuer relies on. */
    if (!ca_trust_domain_is_valid(cfg.trust_domain) || !ca_url_is_valid(cfg.public_url)
        || !ca_url_is_valid(cfg.api_url) || strncmp(cfg.api_url, "https://", 8) != 0
        || !fuzz_config_rate_ok(&cfg.rate_identity) || !fuzz_config_rate_ok(&cfg.rate_address)) {
        abort();
    }
    if (!ZTCA_IS_OK(ca_config_write(&out, &out_len, &cfg)) || out_len != strlen(out)) {
        abort(); /* a config we accepted cannot be written */
    }
    if (!ZTCA_IS_OK(ca_config_parse(&again, (const uint8_t *)out, out_len))) {
        abort(); /* what we wrote does not parse */
    }
    if (!fuzz_config_equal(&cfg, &again)) {
        abort(); /* config round trip changed a value */
    }
    free(out);
    return 0;
}
