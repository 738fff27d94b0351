/* rc.c: where and why the latest failure happened, per thread (s2n's debug_str). */
#include <stdio.h>

#include "core/core.h"

static _Thread_local const char *ztca_rc_file;
static _Thread_local int ztca_rc_line;
static _Thread_local const char *ztca_rc_what;
static _Thread_local long ztca_rc_foreign;
static _Thread_local char ztca_rc_where_buf[256];

void
ztca_note_set(const char *file, int line, const char *what, long foreign)
{
    ztca_rc_file = file;
    ztca_rc_line = line;
    ztca_rc_what = what;
    ztca_rc_foreign = foreign;
}

ztca_rc
ztca_note(ztca_err err, const char *file, int line, const char *what, long foreign)
{
    ztca_note_set(file, line, what, foreign);
    return (ztca_rc){ err };
}

const char *
ztca_last_where(void)
{
    if (ztca_rc_file == NULL) {
        return "";
    }
    snprintf(ztca_rc_where_buf, sizeof(ztca_rc_where_buf), "%s:%d", ztca_rc_file, ztca_rc_line);
    return ztca_rc_where_buf;
}

const char *
ztca_last_what(void)
{
    return ztca_rc_what != NULL ? ztca_rc_what : "";
}

long
ztca_last_foreign(void)
{
    return ztca_rc_foreign;
}

void
ztca_clear_error(void)
{
    ztca_rc_file = NULL;
    ztca_rc_line = 0;
    ztca_rc_what = NULL;
    ztca_rc_foreign = 0;
}

const char *
ztca_err_name(ztca_err err)
{
    switch (err) {
    case ZTCA_OK:
        return "ok";
    case ZTCA_ERR_BAD_INPUT:
        return "bad_input";
    case ZTCA_ERR_UNSUPPORTED:
        return "unsupported";
    case ZTCA_ERR_NOT_FOUND:
        return "not_found";
    case ZTCA_ERR_DENIED:
        return "denied";
    case ZTCA_ERR_CONFLICT:
        return "conflict";
    case ZTCA_ERR_NOMEM:
        return "nomem";
    case ZTCA_ERR_CRYPTO:
        return "crypto";
    case ZTCA_ERR_STORE:
        return "store";
    case ZTCA_ERR_TPM:
        return "tpm";
    case ZTCA_ERR_IO:
        return "io";
    case ZTCA_ERR_INTERNAL:
        return "internal";
    case ZTCA_ERR_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}
