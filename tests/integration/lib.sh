# lib.sh: shared helpers of the integration scripts (sourced, not run).
# Peers missing locally skip the test (exit 77); with ZTCA_CI=1 they fail it.

LIB_PY=/usr/bin/python3 # Debian's python3 (and its python3-cryptography), not one on PATH

lib_need() { # command... : skip or fail when it does not run
    if ! "$@" >/dev/null 2>&1; then
        echo "missing peer: $*" >&2
        [ "${ZTCA_CI:-0}" = 1 ] && exit 1
        exit 77
    fi
}

lib_free_port() { # a TCP port free on 127.0.0.1 right now
    "$LIB_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

lib_wait_http() { # url [seconds]: until it answers 2xx
    local url=$1 n=${2:-20}
    for _ in $(seq $((n * 10))); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# A throwaway PostgreSQL 15 in directory $1 on 127.0.0.1; sets PG_URL. The server refuses to run
# as root, so it runs as the postgres user when we are root.
PG_BIN=/usr/lib/postgresql/15/bin
pg_start() {
    PG_DIR=$1
    [ -x "$PG_BIN/initdb" ] || return 1
    mkdir -p "$PG_DIR"
    local as=()
    if [ "$(id -u)" -eq 0 ]; then
        chmod 755 "$(dirname "$PG_DIR")"
        chown postgres "$PG_DIR"
        as=(runuser -u postgres --)
    fi
    PG_AS=("${as[@]}")
    "${as[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres --no-sync >"$PG_DIR/initdb.log" 2>&1 || return 1
    PG_PORT=$(lib_free_port)
    "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200" \
        start >/dev/null || return 1
    PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
}
pg_stop() {
    [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] &&
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
    return 0
}

# lib_harness: the frame every check script shares: a temp dir $T (kept with ZTCA_KEEP=1),
# background processes in PIDS stopped on exit, ok/bad to report checks, lib_finish to end with
# the right status, and no system CA bundle for openssl and curl.
lib_harness() {
    T=$(mktemp -d)
    PIDS=()
    fails=0
    trap lib_cleanup EXIT
    export SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent
}
lib_cleanup() {
    # errexit applies to the last command of an && list, and a killed peer exits 143.
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    [ -n "${ZTCA_KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
ok() { echo "ok   $*"; }
bad() {
    echo "FAIL $*" >&2
    fails=$((fails + 1))
}
lib_finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$fails check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
}
