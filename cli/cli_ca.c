/* cli_ca.c: loading the issuing CA from DIR (its certificate and its 0600 key). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

ztca_rc
cli_load_issuer(const char *dir, const uint8_t *pass, size_t pass_len, ca_rng *rng,
                ca_signer **out_signer, ca_issuer **out_issuer)
{
    ztca_rc rc = ZTCA_RC_OK;
    char path[4096];
    uint8_t *key_pem = NULL, *cert_pem = NULL, *cert_der = NULL;
    size_t key_len = 0, cert_len = 0, der_len = 0;
    ca_key *key = NULL;
    ca_signer *signer = NULL;

    ZTCA_REQUIRE(cli_path(path, sizeof(path), dir, "private/intermediate.key"), ZTCA_ERR_BAD_INPUT,
                 "path too long");
    ZTCA_CHECK(cli_read_key_file(path, &key_pem, &key_len));
    ZTCA_CHECK(ca_key_parse(&key, key_pem, key_len, pass, pass_len));
    ZTCA_CHECK(ca_signer_new(&signer, key, rng));
    key = NULL;
    ZTCA_REQUIRE(cli_path(path, sizeof(path), dir, "ca/intermediate.pem"), ZTCA_ERR_BAD_INPUT,
                 "path too long");
    ZTCA_CHECK(cli_read_file(path, CA_CERT_MAX * 2, &cert_pem, &cert_len));
    ZTCA_CHECK(ztca_pem_decode_one(&cert_der, &der_len, "CERTIFICATE", cert_pem, cert_len));
    ZTCA_CHECK(ca_issuer_new(out_issuer, cert_der, der_len, signer));
    *out_signer = signer;
    signer = NULL;
out:
    ca_key_free(key);
    ca_signer_free(signer);
    ztca_free_secret(key_pem, key_len + 1);
    ztca_free(cert_pem);
    ztca_free(cert_der);
    return rc;
}
