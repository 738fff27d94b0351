#!/usr/bin/env bash
# bench/authz (issue 10): decisions per second and p50/p99 latency of /v1/authz (the --listen-authz
# listener, as nginx's auth_request asks it) at 32 keep-alive connections, beside nginx serving a
# static file of the same size with the same request and answer headers on the same machine in
# the same run (the HTTP ceiling). Prints one table with the machine and the ratios ztca/nginx.
#   bench/authz/run.sh [--quick] [--runs N] [--seconds S] [--ztca BIN]
# Figures: (1) allowed decisions for one certificate (the cached path); (2) nginx static file;
# (3) as (1) while a loop changes the agent's trust score every 100 ms; (4) ab -c32, a new
# connection per request, ztca and nginx. Full run: 3 interleaved runs of 10 s per figure,
# medians (about 3 minutes once built); --quick: 1 run of 3 s (under a minute). Servers run on
# CPU0, clients on CPU1 (../shared/notes/PEERS.md). Builds an optimized ztca in build-bench-authz
# first; --ztca BIN measures that binary instead (nginx is measured again in the same run, so
# compare the ratios). Needs wrk, ab (apache2-utils), nginx, openssl, curl, python3, taskset, cmake.
# Prints the tables and `RESULT authz_<figure> value` lines (bench/run reads them).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
runs=3
secs=10
quick=0
ztca_bin=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 runs=1 secs=3 ;;
    --runs) runs=$2 && shift ;;
    --seconds) secs=$2 && shift ;;
    --ztca) ztca_bin=$(realpath "$2") && shift ;;
    *) echo "usage: $0 [--quick] [--runs N] [--seconds S] [--ztca BIN]" >&2 && exit 2 ;;
    esac
    shift
done
load0=$(cut -d' ' -f1-3 /proc/loadavg) # before we add our own load
for tool in wrk ab nginx openssl curl python3 taskset cmake; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2 && exit 1; }
done

build=$top/build-bench-authz
if [ -z "$ztca_bin" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$build" -j "$(nproc)" --target ztca >/dev/null
fi
ZTCA=${ztca_bin:-$build/ztca}
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
export SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent # openssl, curl: no system CA bundle per call

T=$(mktemp -d)
PIDS=()
cleanup() { # every exit path: stop what we started (all of it, even if one kill fails)
    set +e
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start() { # command...: runs it in the background, remembered for cleanup
    "$@" &
    PIDS+=($!)
}

if [ "$(nproc)" -ge 2 ]; then
    SRV=(taskset -c 0) CLI=(taskset -c 1) pinning="servers on CPU0, clients on CPU1 (taskset)"
else
    SRV=() CLI=() pinning="not pinned (one core)"
fi
log() { echo "[bench/authz] $*" >&2; }

# ---- a CA, ztca serve, an agent certificate for alice ---------------------------------------------
log "setting up (CA, agent certificate, nginx)"
hport=$(lib_free_port)
sport=$(lib_free_port)
aport=$(lib_free_port)
D=$T/ca
"$ZTCA" init --dir "$D" --trust-domain bench.example --public-url "http://127.0.0.1:$hport" \
    --api-url "https://127.0.0.1:$sport" >/dev/null
# One JSON line per request goes to stderr: discarded, as a deployment would ship it elsewhere;
# producing it still costs ztca (see docs/performance.md#authz).
start "${SRV[@]}" "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$hport" \
    --listen-https "127.0.0.1:$sport" --listen-authz "127.0.0.1:$aport" 2>/dev/null
ZPID=$! # taskset execs the server: same process
lib_wait_http "http://127.0.0.1:$aport/healthz" 20 || { echo "ztca serve did not start" >&2 && exit 1; }
API=https://127.0.0.1:$sport

openssl ecparam -name prime256v1 -genkey -noout -out "$T/a.key"
openssl req -new -key "$T/a.key" -subj /CN=alice -out "$T/a.csr"
python3 -c 'import json, sys; print(json.dumps({"csr": open(sys.argv[1]).read()}))' "$T/a.csr" >"$T/csr.json"
tok=$("$ZTCA" token create --dir "$D" --user alice --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
code=$(curl -sS --cacert "$D/ca/root.pem" -o "$T/issue.json" -w '%{http_code}' \
    -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' --data @"$T/csr.json" "$API/v1/certs")
[ "$code" = 201 ] || { echo "issuance: $code $(cat "$T/issue.json")" >&2 && exit 1; }
DEV=$(python3 - "$T/issue.json" "$T/a.pem" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write(r["certificate"])
print(r["device_id"])
PY
)
# What nginx sends as $ssl_client_escaped_cert.
CERT=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' "$T/a.pem")
HDRS=(-H "X-Client-Cert: $CERT" -H "X-Ztca-Min-Score: 50")
ZURL=http://127.0.0.1:$aport/v1/authz

authz() { # min-score -> HTTP status; headers in $T/h.txt, body in $T/b.txt
    curl -sS -D "$T/h.txt" -o "$T/b.txt" -w '%{http_code}' -H "X-Client-Cert: $CERT" \
        -H "X-Ztca-Min-Score: $1" "$ZURL"
}
score_hdr() { tr -d '\r' <"$T/h.txt" | sed -n 's/^X-Ztca-Score: //ip'; }
code=$(authz 99)
if [ "$code" != 403 ] || ! grep -q score-too-low "$T/b.txt"; then
    echo "ztca: score 99 answered $code, not 403 score-too-low: $(cat "$T/b.txt")" >&2 && exit 1
fi
code=$(authz 50) # the allowed answer last: its body and headers are the ones nginx serves
if [ "$code" != 200 ] || ! grep -q '"allowed":true' "$T/b.txt"; then
    echo "ztca: score 50 answered $code, not 200: $(cat "$T/b.txt")" >&2 && exit 1
fi
score0=$(score_hdr)
cp "$T/b.txt" "$T/allowed.json"
cp "$T/h.txt" "$T/allowed.hdr"
body_size=$(stat -c %s "$T/allowed.json")

# ---- the score loop of figure (3) ---------------------------------------------------------------------
# An impact-0 signal that changes nothing leaves the generation alone (api_trust_evaluate bumps it
# only when a score or a hold changes), so the loop alternates impact -1 and 0 from one source and
# kind: the score goes 85 -> 84 -> 85, every signal is a change (one direct bump on this node, more
# from the change feed), and the decision stays "allowed" at min score 50.
ADMIN=(--cacert "$D/ca/root.pem" --cert "$D/admin/cert.pem" --key "$D/admin/key.pem")
signal() { # impact -> HTTP status
    curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "${ADMIN[@]}" -H 'Content-Type: application/json' \
        --data "{\"source\":\"bench\",\"kind\":\"flip\",\"impact\":$1}" "$API/v1/devices/$DEV/signals"
}
# The loop must see a change in the very next answer, or figure (3) measures nothing new.
c1=$(signal -1) && authz 50 >/dev/null && s1=$(score_hdr)
c2=$(signal 0) && authz 50 >/dev/null && s2=$(score_hdr)
if [ "$c1 $c2" != "201 201" ] || [ "$s1" != $((score0 - 1)) ] || [ "$s2" != "$score0" ]; then
    echo "ztca: a score change did not reach the next /v1/authz answer (signals $c1 $c2, scores $score0 $s1 $s2)" >&2
    exit 1
fi
# One keep-alive HTTPS connection, paced by the clock: a curl per signal would spend a process
# start and a TLS handshake on the client CPU, which wrk needs.
cat >"$T/signals.py" <<'PY'
import http.client, json, ssl, sys, time
port, path, root, cert, key, out = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=root)
ctx.load_cert_chain(cert, key)
def connect():
    return http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=5)
conn, i, due = connect(), 0, time.monotonic()
with open(out, "a") as f:
    while True:
        body = json.dumps({"source": "bench", "kind": "flip", "impact": -1 if i % 2 == 0 else 0})
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            code = r.status
        except (OSError, http.client.HTTPException) as e:
            code = type(e).__name__
            conn.close()
            conn = connect()
        print(code, file=f, flush=True)
        i += 1
        due += 0.1
        time.sleep(max(0.0, due - time.monotonic()))
PY

# ---- nginx: the same answer as a static file -----------------------------------------------------
# Same path, same body bytes, and ztca's own answer headers added, so that both servers parse the
# same request and send about the same octets; what remains is the decision.
nport=$(lib_free_port)
mkdir -p "$T/nginx/www/v1" "$T/nginx/tmp"
cp "$T/allowed.json" "$T/nginx/www/v1/authz"
chmod 711 "$T" "$T/nginx" && chmod 755 "$T/nginx/www" "$T/nginx/www/v1" && chmod 644 "$T/nginx/www/v1/authz"
add_headers=$(tr -d '\r' <"$T/allowed.hdr" |
    awk -F': ' 'tolower($1) ~ /^(x-ztca-|x-content-type-options|x-request-id|cache-control)/ {
        printf "add_header %s \"%s\";\n            ", $1, $2 }')
cat >"$T/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    large_client_header_buffers 4 16k;
    client_body_temp_path $T/nginx/tmp;
    proxy_temp_path $T/nginx/tmp;
    fastcgi_temp_path $T/nginx/tmp;
    uwsgi_temp_path $T/nginx/tmp;
    scgi_temp_path $T/nginx/tmp;
    server {
        listen 127.0.0.1:$nport;
        location /v1/ {
            root $T/nginx/www;
            default_type application/json;
            $add_headers
        }
    }
}
EOF
start "${SRV[@]}" nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf"
NPID=$!
NURL=http://127.0.0.1:$nport/v1/authz
lib_wait_http "$NURL" 20 || { echo "nginx did not start" >&2 && cat "$T/nginx/error.log" >&2 && exit 1; }
curl -fsS "${HDRS[@]}" -D "$T/nginx.hdr" "$NURL" -o "$T/nginx.json"
cmp -s "$T/nginx.json" "$T/allowed.json" || { echo "nginx: not the same body" >&2 && exit 1; }
resp_z=$(($(stat -c %s "$T/allowed.hdr") + body_size))
resp_n=$(($(stat -c %s "$T/nginx.hdr") + body_size))

# ---- measurements ----------------------------------------------------------------------------------
R=$T/results # lines: key rps p50_ms p99_ms server_cpu_us_per_request
: >"$R"
WARN=()
SIGNALS=() # per run of figure (3): "posted failed seconds"

# Server CPU time per request: user + system time of the server's processes over the run, divided
# by the requests answered (without the kernel's softirq time of loopback TCP: compare servers
# with each other). For figure (3) it includes the signals' TLS handshakes and transactions.
ticks() { # pid...: their utime + stime in clock ticks
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
server_pids() { # key -> the pids to account
    case $1 in
    ztca_*) echo "$ZPID" ;;
    nginx_*) echo "$NPID $(pgrep -P "$NPID" | tr '\n' ' ')" ;;
    esac
}
HZ=$(getconf CLK_TCK)

wrk_run() { # key url
    local key=$1 url=$2 pids t0
    pids=$(server_pids "$key")
    # shellcheck disable=SC2086
    t0=$(ticks $pids)
    "${CLI[@]}" wrk -t1 -c32 -d"${secs}s" --timeout 5s --latency "${HDRS[@]}" "$url" >"$T/wrk.out" 2>&1 || true
    # shellcheck disable=SC2086
    awk -v key="$key" -v ticks=$(($(ticks $pids) - t0)) -v hz="$HZ" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /m$/) return v * 60000
            if (v ~ /s$/) return v * 1000
            return v + 0
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /^Requests\/sec:/ { rps = $2 }
        / requests in / { n = $1 }
        END { if (rps != "") printf "%s %s %.3f %.3f %.2f\n", key, rps, p50, p99, (n > 0 ? ticks * 1e6 / hz / n : 0) }' \
        "$T/wrk.out" >>"$R"
    if grep -qE "Non-2xx|timeout [1-9]" "$T/wrk.out" || ! grep -q "^Requests/sec" "$T/wrk.out"; then
        WARN+=("$key: $(grep -E 'Non-2xx|Socket errors|rror' "$T/wrk.out" | tr '\n' ' ' || true)")
    fi
}

ab_run() { # key url: a new connection per request (HTTP/1.0, no -k)
    local key=$1 pids t0 dt rps n fail non2xx
    pids=$(server_pids "$key")
    # shellcheck disable=SC2086
    t0=$(ticks $pids)
    # -l: X-Request-Id differs per answer, so lengths are not compared (PEERS.md).
    "${CLI[@]}" ab -q -l -r -c 32 -t "$secs" -n 100000000 -s 10 -e "$T/ab.csv" "${HDRS[@]}" "$2" \
        >"$T/ab.out" 2>&1 || true
    # shellcheck disable=SC2086
    dt=$(($(ticks $pids) - t0))
    rps=$(awk '/^Requests per second:/ { print $4 }' "$T/ab.out")
    n=$(awk '/^Complete requests:/ { print $3 }' "$T/ab.out")
    fail=$(awk '/^Failed requests:/ { print $3 }' "$T/ab.out")
    non2xx=$(awk '/^Non-2xx responses:/ { print $3 }' "$T/ab.out")
    if [ -z "$rps" ] || [ -z "$n" ] || [ "$n" -eq 0 ]; then
        WARN+=("$key: ab failed: $(tail -2 "$T/ab.out" | tr '\n' ' ' || true)")
        return
    fi
    if [ "${fail:-0}" -gt 0 ] || [ "${non2xx:-0}" -gt 0 ]; then
        WARN+=("$key: failed ${fail:-0}, non-2xx ${non2xx:-0} of $n")
    fi
    awk -F, -v key="$key" -v rps="$rps" -v ticks="$dt" -v hz="$HZ" -v n="$n" '
        $1 == "50" { p50 = $2 } $1 == "99" { p99 = $2 }
        END { printf "%s %s %.3f %.3f %.2f\n", key, rps, p50, p99, ticks * 1e6 / hz / n }' "$T/ab.csv" >>"$R"
}

wrk_signals_run() { # key url: wrk_run while the score loop runs beside it (on the client CPU)
    local codes=$T/signals.codes lp posted failed
    : >"$codes"
    "${CLI[@]}" python3 "$T/signals.py" "$sport" "/v1/devices/$DEV/signals" "$D/ca/root.pem" \
        "$D/admin/cert.pem" "$D/admin/key.pem" "$codes" &
    lp=$!
    PIDS+=("$lp")
    wrk_run "$1" "$2"
    kill "$lp" 2>/dev/null || true
    wait "$lp" 2>/dev/null || true
    posted=$(grep -c . "$codes" || true)
    failed=$(grep -vc '^201$' "$codes" || true)
    SIGNALS+=("$posted $failed $secs")
    [ "$failed" -eq 0 ] || WARN+=("$1: $failed of $posted signals not answered 201: $(sort "$codes" | uniq -c | tr '\n' ' ')")
    # Back to the starting score, so that every run starts from the same state.
    [ "$(signal 0)" = 201 ] || WARN+=("$1: resetting the score failed")
}

log "warming up"
for u in "$ZURL" "$NURL"; do "${CLI[@]}" wrk -t1 -c32 -d1s "${HDRS[@]}" "$u" >/dev/null 2>&1; done
for run in $(seq "$runs"); do
    log "run $run of $runs (5 figures of ${secs} s)"
    wrk_run ztca_wrk "$ZURL"
    wrk_run nginx_wrk "$NURL"
    wrk_signals_run ztca_sig_wrk "$ZURL"
    ab_run ztca_ab "$ZURL"
    ab_run nginx_ab "$NURL"
done
authz 50 >/dev/null
[ "$(score_hdr)" = "$score0" ] || WARN+=("the score did not come back to $score0: $(score_hdr)")

# ---- the table ---------------------------------------------------------------------------------------
med() { # key field(2 rps, 3 p50, 4 p99, 5 server CPU us/request): the median over the runs
    awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$R" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { # key: "min-max" of req/s over the runs
    awk -v k="$1" '$1 == k { print $2 }' "$R" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'
}
row() { # figure server client key
    local cpu
    cpu=$(med "$4" 5)
    cpu=$(awk -v c="$cpu" 'BEGIN { if (c > 0) printf "%.1f", c; else print "-" }')
    printf '| %s | %s | %s | %.0f | %s | %.2f | %.2f | %s |\n' "$1" "$2" "$3" "$(med "$4" 2)" \
        "$(range "$4")" "$(med "$4" 3)" "$(med "$4" 4)" "$cpu"
}
ratio() { # label numerator-key denominator-key
    printf '| %s | %s |\n' "$1" \
        "$(awk -v a="$(med "$2" 2)" -v b="$(med "$3" 2)" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }')"
}
sig_rate=$(printf '%s\n' "${SIGNALS[@]}" | awk '{ p += $1; s += $3 } END { if (s > 0) printf "%.1f", p / s; else print "n/a" }')

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r), Debian $(cat /etc/debian_version), $(date -u '+%Y-%m-%d %H:%M UTC'), load before: $load0"
echo "software: ztca $([ -n "$ztca_bin" ] && echo "$ztca_bin" || git -C "$top" describe --always --dirty 2>/dev/null || echo '?') (Release, SQLite store, mbedTLS $(dpkg-query -W -f='${Version}' libmbedcrypto7 2>/dev/null || echo '?'), libmicrohttpd $(dpkg-query -W -f='${Version}' libmicrohttpd12 2>/dev/null || echo '?')), $(nginx -v 2>&1 | sed 's/.*: //'), wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')"
echo "method: $runs run(s) of $secs s per figure, interleaved, medians; $pinning; ztca: 2 threads per listener, request log to /dev/null; nginx: 2 workers, access_log off; wrk -t1 -c32 keep-alive; ab -c32, a new connection per request (HTTP/1.0); request: GET /v1/authz with X-Client-Cert (${#CERT} octets, URL-encoded PEM) and X-Ztca-Min-Score: 50; answer: ztca $resp_z octets, nginx $resp_n (same $body_size-octet body, ztca's headers added)"
echo "command: bench/authz/run.sh $([ "$quick" = 1 ] && echo --quick || echo "--runs $runs --seconds $secs")${ztca_bin:+ --ztca $ztca_bin}"
echo
echo "| figure | server | client | req/s | req/s range | p50 ms | p99 ms | server CPU µs/req |"
echo "| --- | --- | --- | ---: | --- | ---: | ---: | ---: |"
row "(1) allowed, one certificate (cached)" "ztca /v1/authz" "wrk -c32" ztca_wrk
row "(2) static file (the ceiling)" "nginx" "wrk -c32" nginx_wrk
row "(3) as (1), score changing every 100 ms ($sig_rate signals/s)" "ztca /v1/authz" "wrk -c32" ztca_sig_wrk
row "(4) allowed, new connection per request" "ztca /v1/authz" "ab -c32" ztca_ab
row "(4) static file, new connection per request" "nginx" "ab -c32" nginx_ab
echo
echo "| ratio (medians of req/s) | value |"
echo "| --- | ---: |"
ratio "(1) ztca / (2) nginx, wrk keep-alive" ztca_wrk nginx_wrk
ratio "(4) ztca / nginx, ab new connections" ztca_ab nginx_ab
ratio "(3) score changing / (1) cached" ztca_sig_wrk ztca_wrk
# On a machine shared with other work the client, not the server, may set req/s: the server CPU
# per request does not depend on that.
printf '| server CPU per request, (1) ztca / (2) nginx | %s |\n' \
    "$(awk -v z="$(med ztca_wrk 5)" -v n="$(med nginx_wrk 5)" 'BEGIN { if (z > 0 && n > 0) printf "%.2f", z / n; else print "n/a" }')"
echo # the medians again, for bench/run
for k in ztca_wrk nginx_wrk ztca_sig_wrk ztca_ab nginx_ab; do
    echo "RESULT authz_${k}_rps $(med "$k" 2)"
    echo "RESULT authz_${k}_p99_ms $(med "$k" 4)"
done
if [ ${#WARN[@]} -gt 0 ]; then
    echo
    echo "warnings (figures above may be wrong):"
    printf -- '- %s\n' "${WARN[@]}"
    exit 1
fi
