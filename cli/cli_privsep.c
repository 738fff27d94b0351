/* cli_privsep.c: the network process of `ztca serve` gives up root after binding its listeners
 * (docs/hardening.md "Privilege separation"). What keeps it from the keys is the uid: the key
 * files are 0600 and owned by the signer process's uid, which the network process no longer has
 * and cannot regain (no saved uid, no capabilities, no_new_privs against setuid executables). */
/* glibc declares setresuid, setresgid, getresuid and getresgid only for _GNU_SOURCE. */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier) */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

ztca_rc
cli_privsep_user(cli_user *out, const char *name)
{
    ZTCA_ENSURE(strlen(name) > 0 && strlen(name) < sizeof(out->name), ZTCA_ERR_BAD_INPUT,
                "--user: invalid user name");
    ZTCA_ENSURE(geteuid() == 0, ZTCA_ERR_DENIED,
                "--user needs ztca serve to start as root (only root can change user)");
    struct passwd pw, *found = NULL;
    char buf[4096];
    int r = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
    ZTCA_ENSURE(r == 0 && found != NULL, ZTCA_ERR_BAD_INPUT,
                "--user: no such user (create one: useradd --system --no-create-home ztca)");
    ZTCA_ENSURE(pw.pw_uid != 0 && pw.pw_gid != 0, ZTCA_ERR_BAD_INPUT,
                "--user must be an unprivileged user (not uid 0 or gid 0)");
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->uid = pw.pw_uid;
    out->gid = pw.pw_gid;
    return ZTCA_RC_OK;
}

ztca_rc
cli_privsep_prepare(void)
{
    /* ztca serve never executes a program: a setuid or file-capability binary must not hand back
     * what the drop takes away. */
    ZTCA_ENSURE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, ZTCA_ERR_INTERNAL,
                "prctl(PR_SET_NO_NEW_PRIVS) failed");
    if (geteuid() == 0) {
        for (int cap = 0; cap < 64; cap++) {
            if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) {
                break; /* past the kernel's last capability */
            }
            ZTCA_ENSURE(prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0, ZTCA_ERR_INTERNAL,
                        "prctl(PR_CAPBSET_DROP) failed");
        }
    }
    return ZTCA_RC_OK;
}

ztca_rc
cli_privsep_drop(const cli_user *u)
{
    ZTCA_ENSURE(setgroups(0, NULL) == 0, ZTCA_ERR_INTERNAL, "setgroups failed");
    ZTCA_ENSURE(setresgid(u->gid, u->gid, u->gid) == 0, ZTCA_ERR_INTERNAL, "setresgid failed");
    ZTCA_ENSURE(setresuid(u->uid, u->uid, u->uid) == 0, ZTCA_ERR_INTERNAL, "setresuid failed");
    ZTCA_ENSURE(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, ZTCA_ERR_INTERNAL,
                "prctl(PR_SET_DUMPABLE) failed");
    /* Trust, but verify (OpenBSD's habit): every id is the user's and root is out of reach. */
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    ZTCA_ENSURE(getresuid(&ru, &eu, &su) == 0 && ru == u->uid && eu == u->uid && su == u->uid,
                ZTCA_ERR_INTERNAL, "privilege drop: a uid is still not the user's");
    ZTCA_ENSURE(getresgid(&rg, &eg, &sg) == 0 && rg == u->gid && eg == u->gid && sg == u->gid,
                ZTCA_ERR_INTERNAL, "privilege drop: a gid is still not the user's");
    ZTCA_ENSURE(setuid(0) != 0 && setgid(0) != 0 && setgroups(0, NULL) != 0, ZTCA_ERR_INTERNAL,
                "privilege drop: root can still be regained");
    ZTCA_ENSURE(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, ZTCA_ERR_INTERNAL,
                "privilege drop: no_new_privs is not set");
    return ZTCA_RC_OK;
}

/* Owned by the user, or, for a file that does not exist yet, nothing to check. */
static bool
cli_privsep_is_users(const char *path, const cli_user *u, bool *out_exists)
{
    struct stat st;
    *out_exists = stat(path, &st) == 0;
    return !*out_exists || st.st_uid == u->uid;
}

ztca_rc
cli_privsep_check_store(const char *url, const cli_user *u)
{
    store_url_info info;
    char dirbuf[STORE_URL_MAX], path[STORE_URL_MAX + 8];
    bool exists = false;
    ZTCA_GUARD(store_url_parse(&info, url, strlen(url)));
    if (info.backend != STORE_BACKEND_SQLITE) {
        return ZTCA_RC_OK; /* PostgreSQL: its own server, its own permissions */
    }
    snprintf(dirbuf, sizeof(dirbuf), "%s", info.path);
    const char *dir = dirname(dirbuf);
    bool ok = cli_privsep_is_users(dir, u, &exists) && exists;
    static const char *const suffixes[] = { "", "-wal", "-shm" };
    for (size_t i = 0; ok && i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", info.path, suffixes[i]);
        ok = cli_privsep_is_users(path, u, &exists);
    }
    if (!ok) {
        fprintf(stderr,
                "ztca serve: the store %s must belong to --user %s, which writes it after the "
                "privilege drop; run: chown -R %s: %s\n",
                info.path, u->name, u->name, dir);
        ZTCA_BAIL(ZTCA_ERR_DENIED, "the SQLite store does not belong to --user");
    }
    /* Not there yet: create it as the user's now, or root's first connection would. */
    int fd = open(info.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        int r = fchown(fd, u->uid, u->gid);
        close(fd);
        ZTCA_ENSURE(r == 0, ZTCA_ERR_IO, "cannot give the new SQLite store to --user");
    }
    return ZTCA_RC_OK;
}
