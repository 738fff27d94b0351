#!/usr/bin/env bash
# Many open connections (docs/cli.md `--max-connections`): with --max-connections 3000 the server
# holds 1,500 idle connections on its HTTPS listener (poll mode) and 1,500 on its HTTP listener
# (epoll mode) at once, so its sockets are numbered far above select()'s 1024 (FD_SETSIZE), and
# still answers an administrator over HTTPS, /healthz and OCSP over HTTP; the open-files limit was
# raised for it from a soft limit of 1024. With the default (1024 per listener) a listener accepts
# at most 1024 connections, and serves again once the idle clients go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need openssl version
lib_need curl --version

lib_harness

# hold HOST PORT N OUT: opens N TCP connections and keeps them until killed; writes to OUT how many
# are open, once a second (a connection the server closed reads EOF and is counted out).
cat >"$T/hold.py" <<'PY'
import os, resource, socket, sys, time
host, port, n, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
socks = []
for _ in range(n):
    s = socket.create_connection((host, port), timeout=5)
    s.setblocking(False)
    socks.append(s)
while True:
    time.sleep(1)
    open_now = 0
    for s in socks:
        if s.fileno() < 0:
            continue
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                s.close()
                continue
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        open_now += 1
    with open(out + ".tmp", "w") as f:
        f.write(f"{open_now}\n")
    os.replace(out + ".tmp", out)
PY
hold() { # host port n out
    rm -f "$4"
    "$LIB_PY" "$T/hold.py" "$@" &
    PIDS+=($!)
    HOLD_PID=$!
    for _ in $(seq 1 100); do
        [ -s "$4" ] && return 0
        sleep 0.1
    done
    bad "the client holding $3 connections to port $2 did not report"
    return 1
}
unhold() {
    kill "$HOLD_PID" 2>/dev/null || true
    wait "$HOLD_PID" 2>/dev/null || true
    lib_pids_drop "$HOLD_PID"
}
open_now() { # settled count of open connections in OUT
    sleep 1.2
    cat "$1"
}

HTTP=$(lib_free_port)
HTTPS=$(lib_free_port)
D="$T/ca"
"$ZTCA" init --dir "$D" --trust-domain corp.example --public-url "http://127.0.0.1:$HTTP" \
    --api-url "https://127.0.0.1:$HTTPS" >/dev/null
C=(curl -sS --max-time 10 --cacert "$D/ca/root.pem")
ADMIN=("${C[@]}" --cert "$D/admin/cert.pem" --key "$D/admin/key.pem")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/leaf.key" \
    -subj /CN=x -out "$T/leaf.csr" 2>/dev/null
"$ZTCA" issue --dir "$D" --csr "$T/leaf.csr" --profile device --out "$T/leaf.pem" 2>/dev/null
answers() { # the three requests every phase checks; prints what failed
    local why=""
    [ "$("${ADMIN[@]}" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$HTTPS/v1/certs?limit=1" 2>/dev/null)" = 200 ] ||
        why="$why https-admin"
    [ "$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/healthz" 2>/dev/null)" = 200 ] || why="$why healthz"
    openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/leaf.pem" -url "http://127.0.0.1:$HTTP/ocsp" \
        -CAfile "$D/ca/root.pem" -no_nonce -timeout 10 2>/dev/null | grep -q ': good' || why="$why ocsp"
    echo "$why"
}
serve() { # args...: starts ztca serve with a soft open-files limit of 1024
    (
        ulimit -H -n 65536 2>/dev/null || true # root; CI's hard limit may be lower
        ulimit -S -n 1024
        exec "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$HTTP" --listen-https "127.0.0.1:$HTTPS" "$@"
    ) 2>"$T/serve.log" &
    SERVER=$!
    PIDS+=("$SERVER")
    lib_wait_http "http://127.0.0.1:$HTTP/healthz" 20 || { bad "server did not start"; cat "$T/serve.log" >&2; exit 1; }
}

# ---- 3000 per listener ------------------------------------------------------------------------
serve --max-connections 3000
lim=$(awk '/^Max open files/ { print $4 }' "/proc/$SERVER/limits")
[ "$lim" -ge $((2 * 3000)) ] && ok "the soft open-files limit was raised from 1024 to $lim" ||
    bad "open-files limit $lim: not raised for 2 x 3000 connections"
hold 127.0.0.1 "$HTTPS" 1500 "$T/https.n"
HTTPS_HOLD=$HOLD_PID
hold 127.0.0.1 "$HTTP" 1500 "$T/http.n"
n_https=$(open_now "$T/https.n")
n_http=$(cat "$T/http.n")
[ "$n_https" = 1500 ] && [ "$n_http" = 1500 ] && ok "1500 idle connections open on each listener" ||
    bad "open idle connections: HTTPS $n_https, HTTP $n_http of 1500 each"
fds=$(find "/proc/$SERVER/fd" -mindepth 1 | wc -l)
maxfd=$(find "/proc/$SERVER/fd" -mindepth 1 -printf '%f\n' | sort -n | tail -1)
[ "$maxfd" -gt 3000 ] && ok "the server holds $fds descriptors, the highest $maxfd (> 1024, beyond select())" ||
    bad "highest descriptor $maxfd: the connections are not all on the server"
why=$(answers)
[ -z "$why" ] && ok "with 3000 connections open: HTTPS admin request, /healthz and OCSP answered" ||
    bad "with 3000 connections open, failed:$why"
unhold
HOLD_PID=$HTTPS_HOLD
unhold
lib_stop "$SERVER" "ztca serve"

# ---- the default limit ------------------------------------------------------------------------
# Connections past the limit are not accepted: the kernel completes their handshake and queues
# them (listen backlog), so the client sees them open; the server's own descriptors tell.
serve
nfd() { find "/proc/$SERVER/fd" -mindepth 1 | wc -l; }
fd0=$(nfd)
hold 127.0.0.1 "$HTTP" 1300 "$T/http.n"
sleep 1.2
accepted=$(($(nfd) - fd0))
[ "$accepted" -le 1024 ] && [ "$accepted" -ge 900 ] && ok "default limit: $accepted of 1300 connections accepted (<= 1024)" ||
    bad "default limit: $accepted of 1300 connections accepted (expected 900-1024)"
unhold
for _ in $(seq 1 50); do
    [ -z "$(answers)" ] && break
    sleep 0.2
done
why=$(answers)
[ -z "$why" ] && ok "once the idle clients are gone the listener serves again" || bad "after the idle clients left, failed:$why"
grep -q 'event=fd_limit_low' "$T/serve.log" && bad "fd_limit_low logged although the hard limit allows it" ||
    ok "no fd_limit_low warning (the hard limit allows the connections)"
lib_stop "$SERVER" "ztca serve"

# ---- stopping with a request in flight ----------------------------------------------------------
# SIGTERM: new connections are refused at once (the listening socket is shut down), the request in
# flight still gets its answer, and the server exits 0 after it.
openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$T/leaf.pem" -no_nonce -reqout "$T/req.der" >/dev/null 2>&1
cat >"$T/slow.py" <<'PY'
import os, socket, sys, time
port, req, go, out = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\n"
          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(req) + req[:10])
open(out + ".started", "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
s.sendall(req[10:])
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
open(out, "w").write(data.split(b"\r\n", 1)[0].decode(errors="replace"))
PY
serve
"$LIB_PY" "$T/slow.py" "$HTTP" "$T/req.der" "$T/slow.go" "$T/slow.out" &
SLOW=$!
PIDS+=("$SLOW")
for _ in $(seq 1 100); do
    [ -e "$T/slow.out.started" ] && break
    sleep 0.05
done
sleep 0.2 # its headers reach the server
kill -TERM "$SERVER"
sleep 0.3
rc=0 rcs=0
curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$HTTP/healthz" 2>/dev/null || rc=$?
"${C[@]}" --max-time 2 -o /dev/null "https://127.0.0.1:$HTTPS/healthz" 2>/dev/null || rcs=$?
[ "$rc" = 7 ] && [ "$rcs" = 7 ] && ok "after SIGTERM new connections are refused at once, HTTP and HTTPS (curl exit 7)" ||
    bad "after SIGTERM new connections: curl exit $rc (HTTP), $rcs (HTTPS), expected 7 (refused)"
kill -0 "$SERVER" 2>/dev/null && ok "the server waits for the request in flight" ||
    bad "the server exited with a request in flight"
touch "$T/slow.go"
wait "$SLOW" || true
lib_pids_drop "$SLOW"
grep -q '^HTTP/1.1 200' "$T/slow.out" 2>/dev/null && ok "the request in flight was answered: $(cat "$T/slow.out")" ||
    bad "the request in flight got: $(cat "$T/slow.out" 2>/dev/null)"
rc=0
wait "$SERVER" 2>/dev/null || rc=$?
lib_pids_drop "$SERVER"
[ "$rc" = 0 ] && ok "ztca serve exited 0 after it" || bad "ztca serve exited $rc"
lib_sanitizer_check
lib_finish
