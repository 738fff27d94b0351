/* agent_main.c: ztca-agent, the device side of ztca (DESIGN.md 3 and 5, docs/enrollment.md):
 * enroll, renew, run, status. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "enroll/agent/agent.h"

static void
agent_usage(FILE *f)
{
    fprintf(f, "usage: ztca-agent enroll --server URL --token T --ca-cert ROOT.pem --out DIR\n"
               "                         [--tcti TCTI | --no-tpm]\n"
               "       ztca-agent renew --dir DIR\n"
               "       ztca-agent run --dir DIR\n"
               "       ztca-agent status --dir DIR\n"
               "       ztca-agent COMMAND --help\n"
               "\n"
               "Exit status: 0 ok, 1 local error, 2 usage, 3 TPM (absent, error, lockout),\n"
               "4 network, TLS or server error (retry later), 5 refused by the server.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        agent_usage(stderr);
        return AGENT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        agent_usage(stdout);
        return AGENT_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("ztca-agent %s\n", ZTCA_VERSION);
        return AGENT_EXIT_OK;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ztca-agent: cannot initialize libcurl\n");
        return AGENT_EXIT_ERROR;
    }
    int status;
    if (strcmp(cmd, "enroll") == 0) {
        status = agent_enroll_main(argc - 1, argv + 1);
    } else if (strcmp(cmd, "renew") == 0) {
        status = agent_renew_main(argc - 1, argv + 1);
    } else if (strcmp(cmd, "run") == 0) {
        status = agent_run_main(argc - 1, argv + 1);
    } else if (strcmp(cmd, "status") == 0) {
        status = agent_status_main(argc - 1, argv + 1);
    } else {
        fprintf(stderr, "ztca-agent: unknown command '%s'\n", cmd);
        agent_usage(stderr);
        status = AGENT_EXIT_USAGE;
    }
    curl_global_cleanup();
    agent_tls_release();
    return status;
}
