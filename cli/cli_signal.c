/* cli_signal.c: `ztca signal`: posts a trust signal about a device, an agent or a user
 * (docs/trust.md) with the admin certificate of DIR, or a signal feeder's (--cert/--key). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

static void
cli_signal_usage(FILE *f)
{
    fprintf(f, "usage: ztca signal (--device ID [--user U] | --user U) --kind K --impact N\n"
               "                   [--source S] [--expires-in D] [--note TEXT]\n"
               "                   [--dir DIR] [--server https://HOST:PORT] [--json]\n"
               "                   [--cert FILE --key FILE] [--passphrase-file F]\n"
               "\n"
               "A signal about a device (--device), an agent (--device and --user: that user on\n"
               "that device) or a user (--user: all of the user's agents). IMPACT is -100..100;\n"
               "the latest signal of a source and kind replaces the earlier one, and one with\n"
               "--expires-in stops counting then. Prints the new score(s); certificates of a\n"
               "subject whose score falls below the hold threshold answer OCSP certificateHold.\n"
               "Administrators may name any --source (default \"admin\"); a signal feeder\n"
               "(--cert/--key of a signal-feeder certificate) posts as its own name only.\n");
}

static int
cli_signal_print(const json_t *reply)
{
    size_t i;
    json_t *s;
    printf("signal %lld recorded\n",
           (long long)json_integer_value(json_object_get(reply, "signal_id")));
    printf("%-32s %-20s %5s %s\n", "DEVICE", "USER", "SCORE", "STATE");
    json_array_foreach(json_object_get(reply, "subjects"), i, s)
    {
        const char *user = json_string_value(json_object_get(s, "user"));
        bool held = json_is_true(json_object_get(s, "held"));
        bool allowed = json_is_true(json_object_get(s, "issue_allowed"));
        printf("%-32s %-20s %5lld %s\n", json_string_value(json_object_get(s, "device_id")),
               user != NULL ? user : "-",
               (long long)json_integer_value(json_object_get(s, "score")),
               held      ? "held"
               : allowed ? "ok"
                         : "issuance denied");
    }
    if (json_array_size(json_object_get(reply, "subjects")) == 0) {
        printf("(no agent to score yet)\n");
    }
    return 0;
}

int
cli_signal_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "device", required_argument, NULL, 'D' },
        { "user", required_argument, NULL, 'u' },
        { "source", required_argument, NULL, 's' },
        { "kind", required_argument, NULL, 'k' },
        { "impact", required_argument, NULL, 'i' },
        { "expires-in", required_argument, NULL, 'e' },
        { "note", required_argument, NULL, 'n' },
        { "dir", required_argument, NULL, 'd' },
        { "server", required_argument, NULL, 'S' },
        { "json", no_argument, NULL, 'j' },
        { "cert", required_argument, NULL, 'c' },
        { "key", required_argument, NULL, 'K' },
        { "passphrase-file", required_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    cli_client c = { .cmd = "signal" };
    const char *device = NULL, *user = NULL, *source = NULL, *kind = NULL, *impact = NULL;
    const char *expires = NULL, *note = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'D':
            device = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 's':
            source = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 'i':
            impact = optarg;
            break;
        case 'e':
            expires = optarg;
            break;
        case 'n':
            note = optarg;
            break;
        case 'd':
            c.dir = optarg;
            break;
        case 'S':
            c.server = optarg;
            break;
        case 'j':
            c.json = true;
            break;
        case 'c':
            c.cert = optarg;
            break;
        case 'K':
            c.key = optarg;
            break;
        case 'P':
            c.pass_file = optarg;
            break;
        case 'h':
            cli_signal_usage(stdout);
            return 0;
        default:
            return cli_usage_error("signal", "invalid option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("signal", "unexpected argument");
    }
    if ((device == NULL && user == NULL) || kind == NULL || impact == NULL) {
        return cli_usage_error("signal", "--device or --user, --kind and --impact are required");
    }
    if ((c.cert == NULL) != (c.key == NULL)) {
        return cli_usage_error("signal", "--cert and --key go together");
    }
    if ((device != NULL && !ca_name_is_valid(device))
        || (user != NULL && !ca_name_is_valid(user))) {
        return cli_usage_error("signal", "--device and --user are 1-64 of [A-Za-z0-9._-]");
    }
    char *end = NULL;
    long n = strtol(impact, &end, 10);
    if (*impact == '\0' || *end != '\0' || n < TRUST_IMPACT_MIN || n > TRUST_IMPACT_MAX) {
        return cli_usage_error("signal", "--impact must be an integer from -100 to 100");
    }
    c.dir = cli_default_dir(c.dir);

    char path[256];
    if (device != NULL && user != NULL) {
        snprintf(path, sizeof(path), "/v1/agents/%s/%s/signals", device, user);
    } else if (device != NULL) {
        snprintf(path, sizeof(path), "/v1/devices/%s/signals", device);
    } else {
        snprintf(path, sizeof(path), "/v1/users/%s/signals", user);
    }
    /* The server checks every member (names, ranges, durations); the CLI only builds. */
    json_t *body = json_pack("{s:s, s:I}", "kind", kind, "impact", (json_int_t)n);
    if (body == NULL) {
        fprintf(stderr, "ztca signal: out of memory\n");
        return 1;
    }
    if (source != NULL) {
        json_object_set_new(body, "source", json_string(source));
    }
    if (expires != NULL) {
        json_object_set_new(body, "expires_in", json_string(expires));
    }
    if (note != NULL) {
        json_object_set_new(body, "note", json_string(note));
    }
    json_t *reply = NULL;
    long status = cli_call(&c, "POST", path, body, &reply);
    json_decref(body);
    int rc = 1;
    if (status == 201) {
        rc = c.json ? cli_print_json(reply) : cli_signal_print(reply);
    } else if (status != 0) {
        rc = cli_problem(&c, status, reply);
    }
    json_decref(reply);
    return rc;
}
