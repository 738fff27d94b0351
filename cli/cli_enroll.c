/* cli_enroll.c: what `ztca serve` loads for TPM enrollment (docs/enrollment.md): the TPM
 * manufacturer roots of DIR/tpm-roots/, the PCR policy ("attestation") and the "enrollment"
 * settings of DIR/ztca.conf. Read once at start; a change needs a restart. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CLI_ENROLL_ROOT_FILE_MAX ((size_t)1024 * 1024)

void
cli_enroll_init(cli_enroll *e)
{
    memset(e, 0, sizeof(*e));
    enroll_config_defaults(&e->conf);
}

void
cli_enroll_free(cli_enroll *e)
{
    if (e == NULL) {
        return;
    }
    attest_roots_free(e->roots);
    attest_pcr_policy_free(e->policy);
    cli_enroll_init(e);
}

/* Every regular file of DIR/tpm-roots/ (none is fine: no EK certificate is trusted then). */
static ztca_rc
cli_enroll_roots(const char *dir, attest_roots *roots, size_t *out_files)
{
    char path[4096], file[4096];
    *out_files = 0;
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, "tpm-roots"), ZTCA_ERR_BAD_INPUT,
                "path too long");
    DIR *d = opendir(path);
    if (d == NULL) {
        return ZTCA_RC_OK;
    }
    ztca_rc rc = ZTCA_RC_OK;
    for (const struct dirent *de = readdir(d); de != NULL && ZTCA_IS_OK(rc); de = readdir(d)) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (de->d_name[0] == '.') {
            continue;
        }
        if (snprintf(file, sizeof(file), "%s/%s", path, de->d_name) >= (int)sizeof(file)) {
            rc = ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "tpm-roots: path too long", 0);
            break;
        }
        rc = cli_read_file(file, CLI_ENROLL_ROOT_FILE_MAX, &data, &len);
        if (ZTCA_IS_OK(rc)) {
            rc = attest_roots_add(roots, data, len);
            if (!ZTCA_IS_OK(rc)) {
                fprintf(stderr, "ztca serve: tpm-roots/%s: %s\n", de->d_name, ztca_last_what());
            }
            (*out_files)++;
        }
        ztca_free(data);
    }
    closedir(d);
    return rc;
}

ztca_rc
cli_enroll_load(const char *dir, cli_enroll *out)
{
    char path[4096];
    uint8_t *conf = NULL;
    size_t conf_len = 0, files = 0;
    attest_chain_profile profile = ATTEST_CHAIN_DEFAULT;
    attest_reason why = ATTEST_OK;
    cli_enroll e;
    cli_enroll_init(&e);
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, "ztca.conf"), ZTCA_ERR_BAD_INPUT,
                "path too long");
    ZTCA_GUARD(cli_read_file(path, CA_CONFIG_MAX, &conf, &conf_len));
    ztca_rc rc = attest_chain_profile_parse(&profile, conf, conf_len);
    if (ZTCA_IS_OK(rc)) {
        rc = attest_pcr_policy_parse(&e.policy, &why, conf, conf_len);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = enroll_config_parse(&e.conf, conf, conf_len);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = attest_roots_new(&e.roots, profile);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = cli_enroll_roots(dir, e.roots, &files);
    }
    ztca_free(conf);
    if (!ZTCA_IS_OK(rc)) {
        cli_enroll_free(&e);
        return rc;
    }
    ztca_log(ZTCA_LOG_INFO, "event=tpm_roots files=%zu anchors=%zu session_ttl=%lld", files,
             attest_roots_num_anchors(e.roots), (long long)e.conf.session_ttl);
    *out = e;
    return ZTCA_RC_OK;
}
