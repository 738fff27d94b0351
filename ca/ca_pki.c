/* ca_pki.c: everything `ztca init` creates, built in memory so that nothing reaches the disk
 * unless all of it succeeded. */
#include <stdlib.h>
#include <string.h>

#include "ca/internal.h"

void
ca_pki_init(ca_pki *pki)
{
    memset(pki, 0, sizeof(*pki));
}

void
ca_pki_free(ca_pki *pki)
{
    if (pki == NULL) {
        return;
    }
    ztca_free(pki->root_cert_pem);
    ztca_free(pki->intermediate_cert_pem);
    ztca_free(pki->chain_pem);
    ztca_free(pki->ocsp_cert_pem);
    ztca_free(pki->server_cert_pem);
    ztca_free(pki->server_chain_pem);
    ztca_free(pki->admin_cert_pem);
    ztca_free_secret(pki->root_key_pem, pki->root_key_len);
    ztca_free_secret(pki->intermediate_key_pem, pki->intermediate_key_len);
    ztca_free_secret(pki->ocsp_key_pem, pki->ocsp_key_len);
    ztca_free_secret(pki->server_key_pem, pki->server_key_len);
    ztca_free_secret(pki->admin_key_pem, pki->admin_key_len);
    ca_pki_init(pki);
}

/* A self-signed root (issuer == NULL) or an intermediate signed by `issuer_signer`. */
static ztca_rc
ca_pki_ca_cert(uint8_t **out, size_t *out_len, char *out_serial_hex, ca_rng *rng,
               const ca_config *cfg, ca_signer *subject_signer, ca_signer *issuer_signer,
               const ca_cert_fields *issuer, const char *cn, int path_len, ztca_time now,
               int64_t ttl)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf name, ext;
    der_buf_init(&name, 4096);
    der_buf_init(&ext, CA_CERT_MAX);
    uint8_t *name_der = NULL, *ext_der = NULL;
    size_t name_len = 0, ext_len = 0;
    uint8_t serial[CA_SERIAL_LEN];
    uint8_t key_id[CA_KEY_ID_LEN];
    uint8_t issuer_key_id[CA_KEY_ID_LEN];
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(subject_signer, &spki_len);

    ZTCA_CHECK(
        ca_name_add(&name, strlen(cfg->trust_domain) <= 64 ? cfg->trust_domain : NULL, NULL, cn));
    ZTCA_CHECK(der_buf_take(&name, &name_der, &name_len));
    ZTCA_CHECK(ca_spki_key_id(key_id, spki, spki_len));
    ZTCA_CHECK(ca_ext_basic_constraints(&ext, true, path_len));
    ZTCA_CHECK(ca_ext_key_usage(&ext, CA_KU_KEY_CERT_SIGN | CA_KU_CRL_SIGN));
    ZTCA_CHECK(ca_ext_ski(&ext, key_id));
    if (issuer != NULL) {
        /* Our own root: its SKI was computed the same way. */
        ZTCA_CHECK(ca_spki_key_id(issuer_key_id, issuer->spki.p, issuer->spki.len));
        ZTCA_CHECK(ca_ext_aki(&ext, issuer_key_id, sizeof(issuer_key_id)));
    }
    ZTCA_CHECK(der_buf_take(&ext, &ext_der, &ext_len));
    ZTCA_CHECK(ca_serial_new(rng, serial));
    ZTCA_CHECK(ztca_hex_encode(out_serial_hex, 2 * CA_SERIAL_LEN + 1, serial, CA_SERIAL_LEN));
    ca_cert_spec spec = {
        .serial = serial,
        .serial_len = sizeof(serial),
        .issuer_name = issuer != NULL ? issuer->subject.p : name_der,
        .issuer_name_len = issuer != NULL ? issuer->subject.len : name_len,
        .subject_name = name_der,
        .subject_name_len = name_len,
        .not_before = now - CA_BACKDATE,
        .not_after =
            issuer != NULL && now + ttl > issuer->not_after ? issuer->not_after : now + ttl,
        .spki = spki,
        .spki_len = spki_len,
        .extensions = ext_der,
        .extensions_len = ext_len,
    };
    ZTCA_CHECK(ca_cert_sign(out, out_len, issuer != NULL ? issuer_signer : subject_signer, &spec));
out:
    ztca_free(name_der);
    ztca_free(ext_der);
    der_buf_free(&name);
    der_buf_free(&ext);
    return rc;
}

/* Generates a key, writes its PEM into *out_key_pem, and returns a signer holding it. */
static ztca_rc
ca_pki_new_key(ca_signer **out, char **out_key_pem, size_t *out_key_len, ca_rng *rng,
               ca_key_type type, const uint8_t *pass, size_t pass_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_key *key = NULL;
    char *pem = NULL;
    size_t pem_len = 0;
    ZTCA_CHECK(ca_key_generate(&key, rng, type));
    ZTCA_CHECK(ca_key_write_pem(&pem, &pem_len, key, rng, pass, pass_len));
    ZTCA_CHECK(ca_signer_new(out, key, rng));
    key = NULL; /* owned by the signer now */
    *out_key_pem = pem;
    *out_key_len = pem_len;
    pem = NULL;
out:
    ca_key_free(key);
    ztca_free_secret(pem, pem_len);
    return rc;
}

static ztca_rc
ca_pki_leaf(char **out_pem, ca_issuer *iss, const ca_config *cfg, ca_rng *rng, ca_signer *subject,
            const ca_profile *profile, const ca_identity *id, ztca_time now)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_issued cert;
    ca_issued_init(&cert);
    size_t spki_len = 0;
    size_t pem_len = 0;
    const uint8_t *spki = ca_signer_spki(subject, &spki_len);
    ca_issue_req req = {
        .profile = profile, .spki = spki, .spki_len = spki_len, .id = *id, .now = now
    };
    ZTCA_CHECK(ca_issue(&cert, iss, cfg, rng, &req));
    ZTCA_CHECK(ztca_pem_encode(out_pem, &pem_len, "CERTIFICATE", cert.der, cert.der_len));
out:
    ca_issued_free(&cert);
    return rc;
}

static void
ca_pki_add_host(const char **hosts, size_t *num, size_t max, const char *h)
{
    for (size_t i = 0; i < *num; i++) {
        if (strcmp(hosts[i], h) == 0) {
            return;
        }
    }
    if (*num < max) {
        hosts[(*num)++] = h;
    }
}

ztca_rc
ca_pki_create(ca_pki *out, ca_rng *rng, const ca_pki_params *params, const uint8_t *pass,
              size_t pass_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    const ca_config *cfg = params->cfg;
    ca_pki pki;
    ca_pki_init(&pki);
    ca_signer *root = NULL, *inter = NULL, *ocsp = NULL, *server = NULL, *admin = NULL;
    ca_issuer *iss = NULL;
    uint8_t *root_der = NULL, *inter_der = NULL;
    size_t root_len = 0, inter_len = 0, pem_len = 0;
    ca_cert_fields root_fields;
    char public_host[256], api_host[256];
    const char *hosts[40];
    size_t num_hosts = 0;
    ztca_time now = params->now != 0 ? params->now : ztca_now();

    ZTCA_REQUIRE(ca_trust_domain_is_valid(cfg->trust_domain), ZTCA_ERR_BAD_INPUT,
                 "trust domain must be lowercase letters, digits, '.', '-' or '_'");
    ZTCA_REQUIRE(params->admin_user != NULL && ca_name_is_valid(params->admin_user),
                 ZTCA_ERR_BAD_INPUT, "admin user must be 1-64 of [A-Za-z0-9._-]");
    ZTCA_REQUIRE(params->num_server_sans <= 32, ZTCA_ERR_BAD_INPUT, "at most 32 --server-san");
    ZTCA_CHECK(ca_url_host(public_host, sizeof(public_host), cfg->public_url));
    ZTCA_CHECK(ca_url_host(api_host, sizeof(api_host), cfg->api_url));
    ca_pki_add_host(hosts, &num_hosts, 40, api_host);
    ca_pki_add_host(hosts, &num_hosts, 40, public_host);
    for (size_t i = 0; i < params->num_server_sans; i++) {
        ZTCA_REQUIRE(ca_host_is_valid(params->server_sans[i]), ZTCA_ERR_BAD_INPUT,
                     "--server-san must be a DNS name or an IP address");
        ca_pki_add_host(hosts, &num_hosts, 40, params->server_sans[i]);
    }
    ca_pki_add_host(hosts, &num_hosts, 40, "localhost");
    ca_pki_add_host(hosts, &num_hosts, 40, "127.0.0.1");

    ZTCA_CHECK(ca_pki_new_key(&root, &pki.root_key_pem, &pki.root_key_len, rng, cfg->key_type, pass,
                              pass_len));
    ZTCA_CHECK(ca_pki_ca_cert(&root_der, &root_len, pki.root_serial, rng, cfg, root, NULL, NULL,
                              "ztca Root CA", 1, now, CA_ROOT_TTL));
    ZTCA_CHECK(ca_cert_split(&root_fields, root_der, root_len));
    ZTCA_CHECK(ca_pki_new_key(&inter, &pki.intermediate_key_pem, &pki.intermediate_key_len, rng,
                              cfg->key_type, pass, pass_len));
    ZTCA_CHECK(ca_pki_ca_cert(&inter_der, &inter_len, pki.intermediate_serial, rng, cfg, inter,
                              root, &root_fields, "ztca Issuing CA", 0, now, CA_INTERMEDIATE_TTL));
    ZTCA_CHECK(ztca_pem_encode(&pki.root_cert_pem, &pem_len, "CERTIFICATE", root_der, root_len));
    ZTCA_CHECK(
        ztca_pem_encode(&pki.intermediate_cert_pem, &pem_len, "CERTIFICATE", inter_der, inter_len));
    ZTCA_CHECK(ca_pem_concat(&pki.chain_pem, pki.intermediate_cert_pem, pki.root_cert_pem));

    ZTCA_CHECK(ca_issuer_new(&iss, inter_der, inter_len, inter));
    ZTCA_CHECK(ca_pki_new_key(&ocsp, &pki.ocsp_key_pem, &pki.ocsp_key_len, rng, cfg->key_type, pass,
                              pass_len));
    ca_identity none = { 0 };
    ZTCA_CHECK(ca_pki_leaf(&pki.ocsp_cert_pem, iss, cfg, rng, ocsp, ca_profile_get(CA_PROFILE_OCSP),
                           &none, now));
    ZTCA_CHECK(ca_pki_new_key(&server, &pki.server_key_pem, &pki.server_key_len, rng, cfg->key_type,
                              pass, pass_len));
    ca_identity server_id = { .hosts = hosts, .num_hosts = num_hosts };
    ZTCA_CHECK(ca_pki_leaf(&pki.server_cert_pem, iss, cfg, rng, server,
                           ca_profile_get(CA_PROFILE_SERVER), &server_id, now));
    ZTCA_CHECK(
        ca_pem_concat(&pki.server_chain_pem, pki.server_cert_pem, pki.intermediate_cert_pem));
    ZTCA_CHECK(ca_pki_new_key(&admin, &pki.admin_key_pem, &pki.admin_key_len, rng, cfg->key_type,
                              pass, pass_len));
    ca_identity admin_id = { .user = params->admin_user };
    ZTCA_CHECK(ca_pki_leaf(&pki.admin_cert_pem, iss, cfg, rng, admin,
                           ca_profile_get(CA_PROFILE_ADMIN), &admin_id, now));
    *out = pki;
    ca_pki_init(&pki);
out:
    ca_pki_free(&pki);
    ca_issuer_free(iss);
    ca_signer_free(root);
    ca_signer_free(inter);
    ca_signer_free(ocsp);
    ca_signer_free(server);
    ca_signer_free(admin);
    ztca_free(root_der);
    ztca_free(inter_der);
    return rc;
}
