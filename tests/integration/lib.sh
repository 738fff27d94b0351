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
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
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
#
# Sanitizer reports (ASan, LeakSanitizer, UBSan) of every process started from here on go to
# files in $LIB_SAN_DIR (log_path), not to the process's stderr. A leak is reported when a
# process exits: for a server stopped by lib_cleanup, the signer process (whose stderr is the
# server's log) or a CLI command run with 2>/dev/null, the report would go nowhere and the test
# would pass. lib_stop and lib_cleanup fail the test on any report file. The directory is
# world-writable (sticky): a server that dropped to --user writes its report there too.
lib_harness() {
    T=$(mktemp -d)
    PIDS=()
    fails=0
    trap lib_cleanup EXIT
    export SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent
    lib_sanitizer_dir "$T/sanitizer"
}
# lib_sanitizer_dir DIR: the sanitizer part of lib_harness, for the scripts that keep a frame of
# their own (their temp dir, cleanup and ok/bad). Such a script stops its ztca processes with
# lib_stop and ends its EXIT trap with lib_cleanup_status.
lib_sanitizer_dir() {
    LIB_SAN_DIR=$1
    mkdir -m 1777 "$LIB_SAN_DIR" "$LIB_SAN_DIR/seen"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$LIB_SAN_DIR/report"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$LIB_SAN_DIR/report"
    export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$LIB_SAN_DIR/report"
}
lib_sanitizer_check() { # a failed check, with the report on stderr, per report not seen yet
    local f
    [ -n "${LIB_SAN_DIR:-}" ] || return 0
    for f in "$LIB_SAN_DIR"/report.*; do
        [ -f "$f" ] || continue
        bad "sanitizer report from pid ${f##*.}: $({ grep -m1 -E 'ERROR|runtime error' "$f" || head -1 "$f"; } | cut -c1-160)"
        cat "$f" >&2
        mv "$f" "$LIB_SAN_DIR/seen/"
    done
}
lib_pids_drop() { # pid: no longer in PIDS
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
# lib_stop PID NAME: SIGTERM to a ztca process started in the background, wait for it, and fail
# a check unless it exits 0 (ztca serve stops gracefully on SIGTERM) with no sanitizer report.
lib_stop() {
    local rc=0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || rc=$?
    lib_pids_drop "$1"
    [ "$rc" = 0 ] || bad "$2 (pid $1) exited $rc when stopped with SIGTERM"
    lib_sanitizer_check
}
lib_cleanup() {
    local rc=$? p comm st before=$fails
    for p in "${PIDS[@]}"; do
        # A process bash has reaped already is not signalled (its pid may be reused). One still
        # running or a zombie: ztca and ztca-agent must exit 0 on SIGTERM; 137 is a kill -9 by
        # the test itself. Peers (nginx, python) are only stopped.
        comm=$(cat "/proc/$p/comm" 2>/dev/null || true)
        kill "$p" 2>/dev/null || continue
        st=0
        wait "$p" 2>/dev/null || st=$?
        case "$comm" in
        ztca | ztca-agent)
            [ "$st" = 0 ] || [ "$st" = 137 ] || bad "$comm (pid $p) exited $st when stopped with SIGTERM"
            ;;
        esac
    done
    lib_sanitizer_check
    [ -n "${ZTCA_KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
    lib_cleanup_status "$rc" "$before"
}
# lib_cleanup_status RC FAILS_BEFORE: last in an EXIT trap that began with `local rc=$?
# before=$fails`: a script that was passing fails when its cleanup found a failure.
lib_cleanup_status() {
    if [ "$fails" -gt "$2" ] && [ "$1" = 0 ]; then
        echo "$((fails - $2)) check(s) failed at cleanup" >&2
        exit 1
    fi
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

# lib_nginx_enforce DIR PORT AUTHZ [OCSP_URL]: nginx with examples/nginx/ztca-enforce.conf as
# shipped, rewritten for the CA in DIR, listening on 127.0.0.1:PORT, asking /v1/authz at AUTHZ
# (a loopback ADDR:PORT or unix:/PATH of ztca serve --listen-authz); OCSP_URL overrides the
# responder of the certificates' AIA. The "application" behind it echoes the identity headers
# it got. Runs in $T/nginx, pid in PIDS; returns 1 when nginx does not come up.
lib_nginx_enforce() {
    local dir=$1 port=$2 authz=$3 ocsp=${4:-} app ex upstream
    ex="$(dirname "${BASH_SOURCE[0]}")/../../examples/nginx"
    app=$(lib_free_port)
    mkdir -p "$T/nginx/tmp" "$T/etc/nginx"
    cp "$dir/ca/server.pem" "$T/etc/nginx/server.pem"
    cp "$dir/private/server.key" "$T/etc/nginx/server.key"
    cp "$ex/ztca-identity.conf" "$T/etc/nginx/"
    upstream="server $authz;" # nginx takes unix:/PATH and ADDR:PORT alike
    sed -e "s|/etc/ztca/ca/|$dir/ca/|g" -e "s|/etc/ztca/|$T/etc/|g" \
        -e "s|listen 443 ssl;|listen 127.0.0.1:$port ssl;|" \
        -e "s|server 127.0.0.1:9000;|server 127.0.0.1:$app;|" \
        -e "s|server unix:/run/ztca/authz.sock;|$upstream|" \
        "$ex/ztca-enforce.conf" >"$T/nginx/enforce.conf"
    if [ -n "$ocsp" ]; then
        sed -i "s|ssl_ocsp leaf;|ssl_ocsp leaf;\n    ssl_ocsp_responder $ocsp;|" "$T/nginx/enforce.conf"
    fi
    grep -q "/etc/ztca" "$T/nginx/enforce.conf" && return 1
    cat >"$T/nginx/nginx.conf" <<NGX
user root;
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp;
    proxy_temp_path $T/nginx/tmp;
    fastcgi_temp_path $T/nginx/tmp;
    uwsgi_temp_path $T/nginx/tmp;
    scgi_temp_path $T/nginx/tmp;
    include $T/nginx/enforce.conf;
    server {
        listen 127.0.0.1:$app;
        location / {
            return 200 "path=\$uri device=\$http_x_ztca_device user=\$http_x_ztca_user score=\$http_x_ztca_score\n";
        }
    }
}
NGX
    chmod 755 "$T"
    nginx -t -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" >"$T/nginx-t.log" 2>&1 || return 1
    nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" &
    PIDS+=($!)
    for _ in $(seq 50); do
        curl -ks -o /dev/null "https://127.0.0.1:$port/" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# pg_replica_start DIR: a hot standby of the server pg_start started, streaming from it, in
# directory DIR on a port of its own; sets REPLICA_URL (and keeps PG_* of the primary). Stop it
# with PG_DIR=DIR pg_stop.
pg_replica_start() {
    local dir=$1 port
    port=$(lib_free_port)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    # -c fast: without it pg_basebackup waits over a minute for a spread checkpoint.
    "${PG_AS[@]}" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$dir/data" \
        -R -X stream -c fast >"$dir/basebackup.log" 2>&1 || return 1
    # A standby refuses to start with max_connections below the primary's.
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c hot_standby=on -c max_connections=200" \
        start >/dev/null || return 1
    REPLICA_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}
