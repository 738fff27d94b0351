/* log.c: one key=value line per event on stderr. */
#include <stdatomic.h>
#include <stdio.h>

#include "core/core.h"

static atomic_int ztca_log_min = ZTCA_LOG_INFO;

void
ztca_log_set_level(ztca_log_level level)
{
    atomic_store(&ztca_log_min, (int)level);
}

void
ztca_log(ztca_log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    char line[2048];
    char ts[32];
    va_list ap;

    if ((int)level < atomic_load(&ztca_log_min) || level >= ZTCA_LOG_OFF) {
        return;
    }
    if (!ZTCA_IS_OK(ztca_time_format_rfc3339(ts, sizeof(ts), ztca_now()))) {
        ts[0] = '\0';
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): FP */
    va_end(ap);
    /* One fprintf call so that concurrent lines do not interleave (stdio locks the stream). */
    fprintf(stderr, "ts=%s level=%s %s\n", ts, names[level], line);
}
