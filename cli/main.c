/* main.c: `ztca COMMAND ...`: dispatch only; each subcommand parses its own flags. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void
cli_main_usage(FILE *f)
{
    fprintf(f, "usage: ztca COMMAND [OPTIONS]\n"
               "\n"
               "commands:\n"
               "  init      create a private PKI in a directory\n"
               "  issue     issue a certificate offline from a CSR\n"
               "  audit     verify the audit log's hash chain (audit verify)\n"
               "  serve     run the CA: HTTPS API, public HTTP routes\n"
               "  token     create one-time enrollment tokens (admin, over the API)\n"
               "  cert      list, show and revoke certificates (admin, over the API)\n"
               "  device    list, show and revoke devices (admin, over the API)\n"
               "  provisioner  add, list and remove OIDC provisioners for CI jobs (admin)\n"
               "  signal    post a trust signal about a device, agent or user (admin, feeder)\n"
               "  version   print the version\n"
               "\n"
               "Run 'ztca COMMAND --help' for the options of a command.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        cli_main_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "init") == 0) {
        return cli_init_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "issue") == 0) {
        return cli_issue_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "audit") == 0) {
        return cli_audit_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "token") == 0 || strcmp(cmd, "cert") == 0 || strcmp(cmd, "device") == 0) {
        return cli_admin_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "provisioner") == 0) {
        return cli_provisioner_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "signal") == 0) {
        return cli_signal_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "serve") == 0) {
        return cli_serve_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("ztca " ZTCA_VERSION "\n");
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        cli_main_usage(stdout);
        return 0;
    }
    fprintf(stderr, "ztca: unknown command '%s'\n", cmd);
    cli_main_usage(stderr);
    return 2;
}
