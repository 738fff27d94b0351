/* cli_audit.c: `ztca audit verify`: walks the audit hash chain of DIR's store. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void
cli_audit_usage(FILE *f)
{
    fprintf(f, "usage: ztca audit verify [--dir DIR] [--store URL]\n"
               "\n"
               "Checks every entry of the audit log: its hash must match its content, it must\n"
               "commit to the hash of the entry before it, numbers must run without gaps, and the\n"
               "newest entry must be the one the chain head records. Prints the number of entries\n"
               "and the head hash (keep it elsewhere: a later run must show the same prefix) and\n"
               "exits 0; names the first broken entry and exits 1 otherwise.\n"
               "--store overrides the store URL of DIR/ztca.conf (sqlite:PATH, relative to DIR,\n"
               "or postgresql://...).\n");
}

static int
cli_audit_verify(const char *dir, const char *store_flag)
{
    ca_config cfg;
    store *s = NULL;
    ztca_rc rc;
    ca_config_defaults(&cfg);
    if (store_flag == NULL) {
        rc = cli_load_config(dir, &cfg);
        if (!ZTCA_IS_OK(rc)) {
            return cli_fail("audit", "cannot load the configuration", rc);
        }
    }
    if (cli_store_open(&s, "audit", dir, &cfg, store_flag) != 0) {
        return 1;
    }
    store_audit_report rep;
    rc = store_audit_verify(s, &rep);
    store_close(s);
    if (!ZTCA_IS_OK(rc)) {
        return cli_fail("audit", "cannot read the audit log", rc);
    }
    if (!rep.intact) {
        fprintf(stderr,
                "ztca audit: the audit chain is broken at entry %lld (seq=%lld): %s; the %lld "
                "entries before it verify\n",
                (long long)rep.broken_seq, (long long)rep.broken_seq, rep.reason,
                (long long)rep.count);
        return 1;
    }
    char head[2 * STORE_HASH_LEN + 1];
    rc = ztca_hex_encode(head, sizeof(head), rep.head, STORE_HASH_LEN);
    if (!ZTCA_IS_OK(rc)) {
        return cli_fail("audit", "cannot format the head", rc);
    }
    printf("audit chain intact: %lld entries, head %s\n", (long long)rep.count, head);
    return 0;
}

int
cli_audit_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "store", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            cli_audit_usage(stdout);
            return 0;
        }
        return cli_usage_error("audit", "expected: ztca audit verify");
    }
    const char *dir = NULL, *store_flag = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 's':
            store_flag = optarg;
            break;
        case 'h':
            cli_audit_usage(stdout);
            return 0;
        default:
            return cli_usage_error("audit", "invalid option");
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("audit", "unexpected argument");
    }
    return cli_audit_verify(cli_default_dir(dir), store_flag);
}
