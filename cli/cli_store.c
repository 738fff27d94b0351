/* cli_store.c: what the subcommands share to reach DIR's store: which URL (--store, else
 * ztca.conf, else the embedded default), opening it with a clear message, and the audit entries
 * that go with the certificates they issue. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"

#define CLI_STORE_DEFAULT "sqlite:store/ztca.db"

const char *
cli_store_url(const ca_config *cfg, const char *flag)
{
    if (flag != NULL) {
        return flag;
    }
    return cfg != NULL && cfg->store[0] != '\0' ? cfg->store : CLI_STORE_DEFAULT;
}

int
cli_store_open(store **out, const char *cmd, const char *dir, const ca_config *cfg,
               const char *flag)
{
    char url[STORE_URL_MAX + 4096], shown[STORE_URL_MAX + 4096], why[256] = "";
    *out = NULL;
    const char *given = cli_store_url(cfg, flag);
    ztca_rc rc = store_url_resolve(url, sizeof(url), given, dir);
    if (!ZTCA_IS_OK(rc)) {
        return cli_fail(cmd, "invalid store URL", rc);
    }
    store_options opts = { .errbuf = why, .errbuf_size = sizeof(why) };
    rc = store_open_ex(out, url, &opts);
    if (ZTCA_IS_OK(rc)) {
        return 0;
    }
    store_url_redact(shown, sizeof(shown), url);
    fprintf(stderr, "ztca %s: cannot open the store %s: %s%s%s%s\n", cmd, shown,
            ztca_last_what()[0] != '\0' ? ztca_last_what() : ztca_err_name(rc.err),
            why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" : "");
    if (rc.err == ZTCA_ERR_UNSUPPORTED) {
        fprintf(stderr, "ztca %s: this ztca knows store schema version %d\n", cmd,
                STORE_SCHEMA_VERSION);
    }
    return 1;
}

void
cli_store_actor(char *out, size_t out_size)
{
    snprintf(out, out_size, "cli:uid=%lu", (unsigned long)getuid());
}

/* A field of the audit detail: "" and NULL leave it out. */
static int
cli_store_set(json_t *o, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return 0;
    }
    return json_object_set_new(o, key, json_string(value));
}

static int
cli_store_set_time(json_t *o, const char *key, ztca_time t)
{
    char buf[32];
    if (!ZTCA_IS_OK(ztca_time_format_rfc3339(buf, sizeof(buf), t))) {
        return -1;
    }
    return cli_store_set(o, key, buf);
}

ztca_rc
cli_store_issue_detail(char **out, const char *tool, const store_cert *c, const char *uri)
{
    json_t *o = json_object();
    ZTCA_ENSURE(o != NULL, ZTCA_ERR_NOMEM, "out of memory");
    int e = cli_store_set(o, "tool", tool) | cli_store_set(o, "profile", c->profile)
            | cli_store_set(o, "device_id", c->device_id) | cli_store_set(o, "user", c->user)
            | cli_store_set(o, "uri", uri) | cli_store_set_time(o, "not_before", c->not_before)
            | cli_store_set_time(o, "not_after", c->not_after);
    char *text = e == 0 ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    ZTCA_ENSURE(text != NULL, ZTCA_ERR_NOMEM, "out of memory");
    *out = text;
    return ZTCA_RC_OK;
}
