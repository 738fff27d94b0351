/* agent_run.c: `ztca-agent run --dir DIR`: keeps DIR's certificate fresh. It renews at two thirds
 * of the lifetime with jitter, retries transient failures (network, 5xx, TPM busy) with
 * exponential backoff, and stops on a refusal that only a person can fix (revoked certificate or
 * device, evidence refused) or when the certificate has expired. One log line per event. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enroll/agent/agent.h"

static volatile sig_atomic_t agent_stop;

static void
agent_on_signal(int sig)
{
    (void)sig;
    agent_stop = 1;
}

/* Sleeps until `until` or a signal; false when asked to stop. */
static bool
agent_sleep_until(ztca_time until)
{
    while (!agent_stop && ztca_now() < until) {
        int64_t left = until - ztca_now();
        struct timespec ts = { left > 1 ? 1 : left, 0 };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !agent_stop) {
        }
    }
    return !agent_stop;
}

/* A uniform value in [0, 1) for the jitter (not a secret: rand() is enough). */
static double
agent_rand01(void)
{
    return (double)rand() / ((double)RAND_MAX + 1.0);
}

static ztca_rc
agent_run_state(const char *dir, agent_state *st)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ZTCA_GUARD(agent_file_read(dir, AGENT_STATE_FILE, &buf, &len));
    ztca_rc rc = agent_state_parse(st, buf, len);
    ztca_free(buf);
    return rc;
}

int
agent_run_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "tcti", required_argument, NULL, 't' },
        { "max-renewals", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *tcti = NULL;
    long max_renewals = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 't':
            tcti = optarg;
            break;
        case 'n': {
            char *end = NULL;
            max_renewals = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || max_renewals < 1) {
                fprintf(stderr, "ztca-agent run: --max-renewals must be a positive number\n");
                return AGENT_EXIT_USAGE;
            }
            break;
        }
        case 'h':
            printf(
                "usage: ztca-agent run --dir DIR [--tcti TCTI] [--max-renewals N]\n\n"
                "Renews DIR's certificate at two thirds of its lifetime (+-5%% jitter), retries\n"
                "failures with exponential backoff (5 s doubling to 10 min), stops on SIGTERM\n"
                "or SIGINT, after N renewals, or on a refusal (exit 5) or expiry.\n");
            return AGENT_EXIT_OK;
        default:
            fprintf(stderr, "usage: ztca-agent run --dir DIR\n");
            return AGENT_EXIT_USAGE;
        }
    }
    if (dir == NULL || optind != argc) {
        fprintf(stderr, "usage: ztca-agent run --dir DIR\n");
        return AGENT_EXIT_USAGE;
    }
    if (getenv("ZTCA_AGENT_TSS2_LOG") == NULL) {
        setenv("TSS2_LOG", "all+NONE", 0);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = agent_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());

    long renewals = 0;
    unsigned failures = 0;
    while (!agent_stop) {
        agent_state st;
        if (!ZTCA_IS_OK(agent_run_state(dir, &st))) {
            ztca_log(ZTCA_LOG_ERROR, "event=no_state dir=%s what=\"%s\" hint=\"enroll first\"", dir,
                     ztca_last_what());
            return AGENT_EXIT_ERROR;
        }
        ztca_time at = agent_renew_at(st.not_before, st.not_after, agent_rand01() * 2.0 - 1.0);
        if (failures == 0 && at > ztca_now()) {
            char when[32] = "";
            if (!ZTCA_IS_OK(ztca_time_format_rfc3339(when, sizeof(when), at))) {
                when[0] = '\0';
            }
            ztca_log(ZTCA_LOG_INFO, "event=waiting serial=%s not_after=%lld renew_at=%s in_s=%lld",
                     st.serial, (long long)st.not_after, when, (long long)(at - ztca_now()));
            if (!agent_sleep_until(at)) {
                break;
            }
        }
        if (ztca_now() >= st.not_after) {
            ztca_log(ZTCA_LOG_ERROR,
                     "event=expired serial=%s hint=\"renewal needs a valid "
                     "certificate: enroll again with a new token\"",
                     st.serial);
            agent_status_record(dir, "run", AGENT_EXIT_REFUSED, "the certificate expired");
            return AGENT_EXIT_REFUSED;
        }
        ztca_log(ZTCA_LOG_INFO, "event=renewing serial=%s attempt=%u", st.serial, failures + 1);
        int status = agent_renew_once(dir, tcti, false);
        if (status == AGENT_EXIT_OK) {
            failures = 0;
            renewals++;
            if (agent_run_state(dir, &st).err == ZTCA_OK) {
                ztca_log(ZTCA_LOG_INFO, "event=renewed serial=%s not_after=%lld", st.serial,
                         (long long)st.not_after);
            }
            if (max_renewals > 0 && renewals >= max_renewals) {
                break;
            }
            continue;
        }
        agent_status_record(dir, "run", status, "renewal failed (see the agent's log)");
        if (status == AGENT_EXIT_NETWORK || status == AGENT_EXIT_TPM) {
            int64_t wait = agent_backoff(failures, agent_rand01());
            failures++;
            ztca_log(ZTCA_LOG_WARN, "event=renewal_failed exit=%d retry_in_s=%lld attempt=%u",
                     status, (long long)wait, failures);
            if (!agent_sleep_until(ztca_now() + wait)) {
                break;
            }
            continue;
        }
        ztca_log(ZTCA_LOG_ERROR, "event=giving_up exit=%d hint=\"%s\"", status,
                 status == AGENT_EXIT_REFUSED ? "the server refused: see the message above; a "
                                                "revoked device must enroll again"
                                              : "a local problem: see the message above");
        return status;
    }
    ztca_log(ZTCA_LOG_INFO, "event=stopped renewals=%ld", renewals);
    return AGENT_EXIT_OK;
}
