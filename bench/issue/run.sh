#!/usr/bin/env bash
# bench/issue: certificates per second through POST /v1/certs, beside, in the same run: cfssl's
# sign API (golang-cfssl `cfssl serve`, an ECDSA P-256 CA) driven by the same client with the same
# concurrency, and the raw sign+verify rate of the same CA key on the server's CPU.
#   bench/issue/run.sh [--quick] [--store sqlite|postgres] [--threads N] [REQUESTS] [CONNECTIONS]
# Defaults: 3000 issuances per server over 8 keep-alive connections; --quick: 200. --store postgres
# starts a throwaway PostgreSQL 15 on loopback with fsync ON (the durable setting: SQLite's WAL
# is synced before each answer too); --threads is `ztca serve --threads` (default: cores). A
# second peer, of the durable store: the rate of synchronous 4 KiB writes on its file system
# (dd). Servers (ztca serve, cfssl serve) on CPU0, the client on CPU1
# (../shared/notes/PEERS.md); the raw rate is 2 threads on CPU0, the server's share of the
# machine. The asymmetry: each ztca issuance is an HTTPS request with a one-time token (a token
# lookup and its consumption), a CSR verification, a signature and a durable commit
# (certificate, body, audit entry); cfssl answers plain HTTP (as `cfssl serve` serves it) and
# keeps nothing. A third server, informational: cfssl set up
# alike (HTTPS, authsign with an HMAC key, each certificate committed to its SQLite database).
# Builds an optimized ztca in $ZTCA_BENCH_BUILD (default build-bench). Prints a table and
# `RESULT key value` lines (bench/run reads them). Run it under the bench lock:
# flock /tmp/ztca-bench.lock bench/issue/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
requests=3000
backend=sqlite
threads=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) requests=200 ;;
    --store) backend=$2 && shift ;;
    --threads) threads=$2 && shift ;;
    -*) echo "usage: $0 [--quick] [--store sqlite|postgres] [--threads N] [REQUESTS] [CONNECTIONS]" >&2 && exit 2 ;;
    *) break ;;
    esac
    shift
done
case $backend in sqlite | postgres) ;; *) echo "--store sqlite|postgres" >&2 && exit 2 ;; esac
requests=${1:-$requests}
conns=${2:-8}
raw_secs=3
for tool in cfssl openssl curl python3 cmake; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2 && exit 1; }
done
build=${ZTCA_BENCH_BUILD:-$top/build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target ztca bench_issue >/dev/null
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
export SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent # openssl: no system CA bundle per call
if [ "$(nproc)" -ge 2 ]; then
    SRV=(taskset -c 0) CLI=(taskset -c 1) pinning="servers on CPU0, client on CPU1"
else
    SRV=() CLI=() pinning="not pinned (one core)"
fi
load0=$(cut -d' ' -f1-3 /proc/loadavg)
T=$(mktemp -d)
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    pg_stop
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
store=()
shown="SQLite (embedded, WAL, each commit synced before its answer)"
if [ "$backend" = postgres ]; then
    # pg_start turns fsync off for tests; a benchmark of durable commits needs it on.
    pg_start "$T/pg" || { echo "cannot start PostgreSQL 15" >&2 && exit 1; }
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=on -c synchronous_commit=on" \
        start >/dev/null
    store=(--store "$PG_URL")
    shown="PostgreSQL 15 (loopback, fsync=on, synchronous_commit=on)"
fi
"$build/ztca" init --dir "$T/ca" --trust-domain bench.example "${store[@]}" >/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/k.pem"
openssl req -new -key "$T/k.pem" -subj /CN=bench -out "$T/ca/bench.csr"
port=$(lib_free_port)
http=$(lib_free_port)
serve=(--dir "$T/ca" --listen-https "127.0.0.1:$port" --listen-http "127.0.0.1:$http")
[ -n "$threads" ] && serve+=(--threads "$threads")
"${SRV[@]}" "$build/ztca" serve "${serve[@]}" 2>/dev/null &
PIDS+=($!)
lib_wait_http "http://127.0.0.1:$http/healthz" 20 || { echo "ztca serve did not start" >&2 && exit 1; }

# The peer: cfssl serve with a P-256 CA made by openssl, its default signing policy.
mkdir "$T/cfssl"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/cfssl/ca-key.pem"
openssl req -x509 -new -key "$T/cfssl/ca-key.pem" -subj /CN=cfssl-bench-ca -days 2 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$T/cfssl/ca.pem"
cport=$(lib_free_port)
"${SRV[@]}" cfssl serve -ca "$T/cfssl/ca.pem" -ca-key "$T/cfssl/ca-key.pem" -address 127.0.0.1 \
    -port "$cport" -loglevel 5 >"$T/cfssl/log" 2>&1 &
PIDS+=($!)
python3 -c 'import json, sys; print(json.dumps({"certificate_request": open(sys.argv[1]).read()}))' \
    "$T/ca/bench.csr" >"$T/cfssl/req.json"
for _ in $(seq 100); do
    curl -fsS --data-binary @"$T/cfssl/req.json" "http://127.0.0.1:$cport/api/v1/cfssl/sign" \
        -o "$T/cfssl/out.json" 2>/dev/null && break
    sleep 0.1
done
grep -q '"success":true' "$T/cfssl/out.json" 2>/dev/null ||
    { echo "cfssl serve did not sign:" >&2 && cat "$T/cfssl/log" >&2 && exit 1; }

# The same peer set up as ztca runs: TLS, an authenticated request (authsign: an HMAC-SHA256 of
# the request under a shared key; the plain sign route is gone then), every certificate kept in
# its SQLite certificate database (cfssl's certdb; its schema of this version, made here since
# the package ships no migrations). The database is put in WAL mode, which the file keeps: cfssl
# of this version cannot ask for it, and its default rollback journal made it 4x slower here
# (8 writers waiting on each other's locks, p99 430 ms); the peer gets its best setup.
mkdir "$T/cfssl-tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -days 2 -keyout "$T/cfssl-tls/tls-key.pem" \
    -out "$T/cfssl-tls/tls.pem" 2>/dev/null
authkey=$(openssl rand -hex 16)
printf '{"signing":{"default":{"auth_key":"k","expiry":"1h","usages":["digital signature","client auth"]}},"auth_keys":{"k":{"type":"standard","key":"%s"}}}\n' \
    "$authkey" >"$T/cfssl-tls/config.json"
echo "{\"driver\":\"sqlite3\",\"data_source\":\"$T/cfssl-tls/certs.db\"}" >"$T/cfssl-tls/db.json"
python3 - "$T/cfssl-tls" "$authkey" "$T/ca/bench.csr" <<'PY'
import base64, hashlib, hmac, json, sqlite3, sys
d, key, csr = sys.argv[1], bytes.fromhex(sys.argv[2]), open(sys.argv[3]).read()
db = sqlite3.connect(d + "/certs.db")
db.execute("PRAGMA journal_mode=WAL")
db.executescript("""
CREATE TABLE certificates (serial_number blob NOT NULL, authority_key_identifier blob NOT NULL,
  ca_label blob, status blob NOT NULL, reason int, expiry timestamp, revoked_at timestamp,
  pem blob NOT NULL, PRIMARY KEY(serial_number, authority_key_identifier));
CREATE TABLE ocsp_responses (serial_number blob NOT NULL, authority_key_identifier blob NOT NULL,
  body blob NOT NULL, expiry timestamp, PRIMARY KEY(serial_number, authority_key_identifier));
""")
db.close()
req = json.dumps({"certificate_request": csr}).encode()
tok = hmac.new(key, req, hashlib.sha256).digest()
with open(d + "/auth.json", "w") as f:
    json.dump({"token": base64.b64encode(tok).decode(), "request": base64.b64encode(req).decode()}, f)
PY
tport=$(lib_free_port)
"${SRV[@]}" cfssl serve -ca "$T/cfssl/ca.pem" -ca-key "$T/cfssl/ca-key.pem" -address 127.0.0.1 \
    -port "$tport" -config "$T/cfssl-tls/config.json" -db-config "$T/cfssl-tls/db.json" \
    -tls-cert "$T/cfssl-tls/tls.pem" -tls-key "$T/cfssl-tls/tls-key.pem" -loglevel 5 \
    >"$T/cfssl-tls/log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    curl -fsS --cacert "$T/cfssl-tls/tls.pem" --data-binary @"$T/cfssl-tls/auth.json" \
        "https://127.0.0.1:$tport/api/v1/cfssl/authsign" -o "$T/cfssl-tls/out.json" 2>/dev/null && break
    sleep 0.1
done
grep -q '"success":true' "$T/cfssl-tls/out.json" 2>/dev/null ||
    { echo "cfssl serve (TLS, authsign, database) did not sign:" >&2 && cat "$T/cfssl-tls/log" >&2 && exit 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d), load before: $load0"
echo "store: $shown, serve --threads ${threads:-$(nproc)}, $requests issuances per server, $conns keep-alive connections (ztca HTTPS; cfssl plain HTTP, then HTTPS with authsign and its SQLite database), $pinning; cfssl $(dpkg-query -W -f='${Version}' golang-cfssl 2>/dev/null || echo '?')"
# The peer of a durable store: synchronous 4 KiB writes (one fsync each) on the file system the
# store lives on, measured before and after the issuances (the disk is shared, so it drifts).
fsync_rate() {
    local n=300 t0 t1
    t0=$(date +%s%N)
    dd if=/dev/zero of="$T/fsync.probe" bs=4k count=$n oflag=dsync 2>/dev/null
    t1=$(date +%s%N)
    rm -f "$T/fsync.probe"
    echo $((n * 1000000000 / (t1 - t0)))
}
status=0
f0=$(fsync_rate)
"${CLI[@]}" "$build/bench/issue/bench_issue" "$T/ca" "https://127.0.0.1:$port" "$requests" "$conns" 0 \
    "http://127.0.0.1:$cport" "https://127.0.0.1:$tport" "$T/cfssl-tls/tls.pem" \
    "$T/cfssl-tls/auth.json" >"$T/out" || status=1
# The database must hold what was signed: one row per certificate, the probe's included.
stored=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM certificates").fetchone()[0])' "$T/cfssl-tls/certs.db")
echo "RESULT issue_cfssl_tls_stored $stored" >>"$T/out"
[ "$stored" -gt "$requests" ] || { echo "cfssl's database holds $stored certificates, not $requests + 1" >&2 && status=1; }
f1=$(fsync_rate)
# SQLite's WAL after the issuances: checkpoints keep it near their 4 MB threshold; a reader that
# holds a snapshot through every sync kept them from catching up once, and it grew without end.
if [ "$backend" = sqlite ]; then
    echo "RESULT issue_wal_kb $(($(stat -c %s "$T/ca/store/ztca.db-wal") / 1024))" >>"$T/out"
fi
# The raw rate with the server idle, on its CPU: 2 threads sharing one signer, as its workers do.
"${SRV[@]}" "$build/bench/issue/bench_issue" --raw "$T/ca" "$raw_secs" 2 >>"$T/out" || status=1
grep -v '^RESULT ' "$T/out"
get() { awk -v k="$1" '$1 == "RESULT" && $2 == k { print $3 }' "$T/out"; }
div() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "nan" }'; }
z=$(get issue_ztca_per_s) c=$(get issue_cfssl_per_s) raw=$(get issue_raw_sign_verify_per_s)
printf '| raw sign+verify of the same key, 2 threads on CPU0 (%s backend) | %.0f/s |\n' \
    "$(get issue_raw_backend)" "${raw:-0}"
echo "| ratio issuance ztca / raw sign+verify (target >= 0.70) | $(div "$z" "$raw") |"
echo "| peer: 4 KiB O_DSYNC writes on the store's file system (dd), before / after | $f0/s / $f1/s |"
# Above 1 only when issuances share durable commits (group commit): each commit costs a sync.
echo "| ratio issuance / O_DSYNC write rate (mean of before, after) | $(div "$z" "$(((f0 + f1) / 2))") |"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep '^RESULT ' "$T/out"
echo "RESULT issue_ratio_cfssl $(div "$z" "$c")"
echo "RESULT issue_ratio_cfssl_tls $(div "$z" "$(get issue_cfssl_tls_per_s)")"
echo "RESULT issue_ratio_raw $(div "$z" "$raw")"
echo "RESULT issue_requests $requests"
echo "RESULT issue_fsync_per_s $(((f0 + f1) / 2))"
exit $status
