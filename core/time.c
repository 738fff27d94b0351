/* time.c: UTC calendar arithmetic without the C library's time zones (timegm is not C11 and
 * gmtime_r depends on the 32/64-bit time_t of the platform), RFC 3339 and durations. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

static bool
ztca_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
ztca_days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && ztca_is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t
ztca_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
ztca_civil_from_days(int64_t z, int *out_y, int *out_m, int *out_d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *out_y = (int)(y + (m <= 2));
    *out_m = (int)m;
    *out_d = (int)d;
}

ztca_time
ztca_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (ztca_time)ts.tv_sec;
}

ztca_rc
ztca_time_from_tm(ztca_time *out, const ztca_tm *tm)
{
    ZTCA_ENSURE(tm->year >= 1 && tm->year <= 9999, ZTCA_ERR_BAD_INPUT, "time: year out of range");
    ZTCA_ENSURE(tm->mon >= 1 && tm->mon <= 12, ZTCA_ERR_BAD_INPUT, "time: month out of range");
    ZTCA_ENSURE(tm->day >= 1 && tm->day <= ztca_days_in_month(tm->year, tm->mon),
                ZTCA_ERR_BAD_INPUT, "time: day out of range");
    ZTCA_ENSURE(tm->hour >= 0 && tm->hour <= 23 && tm->min >= 0 && tm->min <= 59 && tm->sec >= 0
                    && tm->sec <= 59,
                ZTCA_ERR_BAD_INPUT, "time: hour, minute or second out of range");
    *out = ztca_days_from_civil(tm->year, tm->mon, tm->day) * 86400 + (int64_t)tm->hour * 3600
           + (int64_t)tm->min * 60 + tm->sec;
    return ZTCA_RC_OK;
}

ztca_rc
ztca_time_to_tm(ztca_tm *out, ztca_time t)
{
    ZTCA_ENSURE(t >= ZTCA_TIME_MIN && t <= ZTCA_TIME_MAX, ZTCA_ERR_BAD_INPUT,
                "time: outside years 1-9999");
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    ztca_civil_from_days(days, &out->year, &out->mon, &out->day);
    out->hour = (int)(secs / 3600);
    out->min = (int)(secs % 3600 / 60);
    out->sec = (int)(secs % 60);
    return ZTCA_RC_OK;
}

ztca_rc
ztca_time_format_rfc3339(char *out, size_t out_size, ztca_time t)
{
    ztca_tm tm;
    ZTCA_ENSURE(out_size >= 21, ZTCA_ERR_INTERNAL, "time: RFC 3339 buffer too small");
    ZTCA_GUARD(ztca_time_to_tm(&tm, t));
    snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.year, tm.mon, tm.day, tm.hour,
             tm.min, tm.sec);
    return ZTCA_RC_OK;
}

static bool
ztca_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

ztca_rc
ztca_time_parse_rfc3339(ztca_time *out, const char *s)
{
    /* Only the form we emit: UTC with "Z", no fractions, no offsets. */
    ztca_tm tm;
    ZTCA_ENSURE(strlen(s) == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':'
                    && s[16] == ':' && s[19] == 'Z',
                ZTCA_ERR_BAD_INPUT, "time: expected YYYY-MM-DDTHH:MM:SSZ");
    ZTCA_ENSURE(ztca_digits(s, 4, &tm.year) && ztca_digits(s + 5, 2, &tm.mon)
                    && ztca_digits(s + 8, 2, &tm.day) && ztca_digits(s + 11, 2, &tm.hour)
                    && ztca_digits(s + 14, 2, &tm.min) && ztca_digits(s + 17, 2, &tm.sec),
                ZTCA_ERR_BAD_INPUT, "time: expected YYYY-MM-DDTHH:MM:SSZ");
    return ztca_time_from_tm(out, &tm);
}

#define ZTCA_DURATION_MAX (100LL * 366 * 86400)

ztca_rc
ztca_duration_parse(int64_t *out_seconds, const char *s)
{
    int64_t total = 0;
    const char *p = s;
    int last_unit = 5; /* units must go from large to small, each at most once */
    ZTCA_ENSURE(*p != '\0', ZTCA_ERR_BAD_INPUT, "duration: empty (use e.g. 15m, 8h, 7d)");
    while (*p != '\0') {
        int64_t v = 0;
        int unit;
        int64_t mult;
        ZTCA_ENSURE(*p >= '0' && *p <= '9', ZTCA_ERR_BAD_INPUT,
                    "duration: expected a number followed by s, m, h or d (e.g. 15m)");
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            ZTCA_ENSURE(v <= ZTCA_DURATION_MAX, ZTCA_ERR_BAD_INPUT, "duration: too long");
            p++;
        }
        switch (*p) {
        case 'd':
            unit = 4;
            mult = 86400;
            break;
        case 'h':
            unit = 3;
            mult = 3600;
            break;
        case 'm':
            unit = 2;
            mult = 60;
            break;
        case 's':
            unit = 1;
            mult = 1;
            break;
        default:
            ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "duration: unit must be s, m, h or d (e.g. 15m)");
        }
        ZTCA_ENSURE(unit < last_unit, ZTCA_ERR_BAD_INPUT,
                    "duration: units must go from d to s, each once (e.g. 1h30m)");
        last_unit = unit;
        p++;
        total += v * mult;
        ZTCA_ENSURE(total <= ZTCA_DURATION_MAX, ZTCA_ERR_BAD_INPUT, "duration: too long");
    }
    ZTCA_ENSURE(total > 0, ZTCA_ERR_BAD_INPUT, "duration: must be positive");
    *out_seconds = total;
    return ZTCA_RC_OK;
}

void
ztca_duration_format(char *out, size_t out_size, int64_t seconds)
{
    static const struct {
        char unit;
        int64_t mult;
    } units[] = { { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 } };
    size_t used = 0;
    if (out_size == 0) {
        return;
    }
    out[0] = '\0';
    if (out_size < ZTCA_DURATION_TEXT) {
        return;
    }
    if (seconds <= 0) {
        snprintf(out, out_size, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && used < out_size; i++) {
        int64_t n = seconds / units[i].mult;
        if (n > 0) {
            int w = snprintf(out + used, out_size - used, "%lld%c", (long long)n, units[i].unit);
            if (w < 0) {
                return;
            }
            used += (size_t)w;
            seconds -= n * units[i].mult;
        }
    }
}
