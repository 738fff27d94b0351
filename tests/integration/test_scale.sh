#!/usr/bin/env bash
# Scale-out on PostgreSQL (docs/scaling.md), on a real primary and a streaming replica started
# here: two read-write nodes on the primary and one `--role ocsp` node on the replica.
# - a revocation on node A is answered by node B (NOTIFY) and by the OCSP node (change log
#   through the replica, read every 200 ms); the delays are printed;
# - kill -9 of node A under OCSP load: B and the OCSP node answer every request;
# - PostgreSQL stopped under load: cached OCSP answers go on (fail static), issuance answers 503
#   with Retry-After, /healthz says degraded; PostgreSQL back: issuance and the change feed
#   resume without a restart;
# - concurrent issuance on two nodes: no serial collision, nothing lost, the audit chain holds;
# - the OCSP node refuses every other route and writes nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need openssl version
lib_need curl --version
lib_need test -x "$PG_BIN/pg_basebackup"
lib_need "$LIB_PY" -c 'import json'
lib_harness
trap 'pg_stop; PG_DIR=$T/replica pg_stop; lib_cleanup' EXIT

# ---- PostgreSQL primary and a streaming replica -----------------------------------------------
pg_start "$T/primary" || { bad "PostgreSQL primary did not start: $(cat "$T/primary/initdb.log" "$T/primary/server.log" 2>/dev/null | tail -5)"; exit 1; }
PRIMARY_URL=$PG_URL PRIMARY_DIR=$PG_DIR PRIMARY_PORT=$PG_PORT
pg_replica_start "$T/replica" || { bad "replica: $(cat "$T/replica/basebackup.log" 2>/dev/null; tail -5 "$T/replica/server.log" 2>/dev/null)"; exit 1; }
ok "PostgreSQL primary and hot standby (pg_basebackup -R -X stream -c fast)"
pg_primary_start() {
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PRIMARY_DIR/data" -l "$PRIMARY_DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PRIMARY_PORT -k $PRIMARY_DIR -c fsync=off -c max_connections=200" \
        start >/dev/null
}

# ---- the CA and three nodes -------------------------------------------------------------------
HA=$(lib_free_port) SA=$(lib_free_port) HB=$(lib_free_port) SB=$(lib_free_port) HO=$(lib_free_port)
D=$T/ca
"$ZTCA" init --dir "$D" --trust-domain corp.example --public-url "http://127.0.0.1:$HA" \
    --api-url "https://127.0.0.1:$SA" --store "$PRIMARY_URL" >/dev/null
node() { # name http https [args...]: a ztca serve, pid in PID_<name>
    local name=$1 http=$2 https=$3
    shift 3
    "$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$http" --listen-https "$https" "$@" 2>>"$T/$name.log" &
    PIDS+=($!)
    eval "PID_$name=$!"
    lib_wait_http "http://127.0.0.1:$http/healthz" 20 || { bad "node $name did not start: $(tail -3 "$T/$name.log")"; exit 1; }
}
node A "$HA" "127.0.0.1:$SA"
node B "$HB" "127.0.0.1:$SB"
node O "$HO" none --role ocsp --store "$REPLICA_URL"
curl -sS "http://127.0.0.1:$HO/healthz" | grep -q '"role":"ocsp"' && ok "three nodes: A and B on the primary, an OCSP node on the replica" || bad "ocsp node role"

issue() { # name -> $T/name.pem (agent for alice, offline issuance into the primary)
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/$1.key"
    openssl req -new -key "$T/$1.key" -subj /CN=x -out "$T/$1.csr"
    "$ZTCA" issue --dir "$D" --csr "$T/$1.csr" --profile agent --user alice --out "$T/$1.pem" 2>"$T/$1.issue"
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }
getpath() { # cert -> the RFC 5019 GET path of its request
    openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$1" -no_nonce -reqout "$T/req.der" >/dev/null 2>&1
    base64 -w0 "$T/req.der" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g'
}
status_at() { # http-port cert -> good|revoked|... (cached GET path)
    curl -sS -o "$T/st.der" "http://127.0.0.1:$1/ocsp/$(getpath "$2")" 2>/dev/null || true
    openssl ocsp -respin "$T/st.der" -issuer "$D/ca/intermediate.pem" -cert "$2" -no_nonce \
        -CAfile "$D/ca/root.pem" 2>/dev/null | sed -n "s|^$2: ||p"
}
issue x
for p in "$HA" "$HB" "$HO"; do [ "$(status_at "$p" "$T/x.pem")" = good ] || bad "x not good on $p"; done
ok "a certificate issued through the primary is good on every node (the replica has it)"

# ---- propagation: revoke on A, watch B and the OCSP node ---------------------------------------
GP=$(getpath "$T/x.pem")
watch() { # http-port -> milliseconds until the cached GET answer says revoked (or 9999)
    local start=$1 port=$2
    for _ in $(seq 1 500); do
        curl -sS -o "$T/w$port.der" "http://127.0.0.1:$port/ocsp/$GP" 2>/dev/null || true
        if openssl ocsp -respin "$T/w$port.der" -issuer "$D/ca/intermediate.pem" -cert "$T/x.pem" -no_nonce \
            -CAfile "$D/ca/root.pem" 2>/dev/null | grep -q ": revoked"; then
            echo $((($(date +%s%N) - start) / 1000000))
            return
        fi
        sleep 0.01
    done
    echo 9999
}
t0=$(date +%s%N)
"$ZTCA" cert revoke --dir "$D" --server "https://127.0.0.1:$SA" "$(serial_of "$T/x.pem")" --reason keyCompromise >/dev/null
watch "$t0" "$HB" >"$T/lat.b" &
wb=$!
watch "$t0" "$HO" >"$T/lat.o" &
wo=$!
wait "$wb" "$wo"
LB=$(cat "$T/lat.b") LO=$(cat "$T/lat.o")
# The bound of DESIGN.md 4 is one second; sanitizer builds run several times slower, so there
# only the propagation itself is required (bench/propagation measures p50/p99).
limit=1000
[ -n "${ZTCA_SANITIZED:-}" ] && limit=5000
[ "$LB" -lt "$limit" ] && ok "revoke on A -> node B answers revoked after ${LB} ms (NOTIFY)" || bad "node B: ${LB} ms"
[ "$LO" -lt "$limit" ] && ok "revoke on A -> OCSP node on the replica answers revoked after ${LO} ms (change log)" || bad "OCSP node: ${LO} ms"

# ---- kill -9 of node A under OCSP load ---------------------------------------------------------
issue y
GY=$(getpath "$T/y.pem")
load() { # http-port seconds -> "requests failures"
    local n=0 f=0 end=$(($(date +%s) + $2))
    while [ "$(date +%s)" -lt "$end" ]; do
        code=$(curl -sS -o "$T/l$1.der" -w '%{http_code}' "http://127.0.0.1:$1/ocsp/$GY" 2>/dev/null || echo 000)
        n=$((n + 1))
        if [ "$code" != 200 ] || [ "$(head -c 2 "$T/l$1.der" | od -An -tx1 | tr -d ' \n')" = 3003 ]; then f=$((f + 1)); fi
    done
    echo "$n $f"
}
load "$HB" 3 >"$T/load.b" &
lb=$!
load "$HO" 3 >"$T/load.o" &
lo=$!
sleep 1
kill -9 "$PID_A"
wait "$lb" "$lo"
read -r nb fb <"$T/load.b"
read -r no fo <"$T/load.o"
[ "$fb" = 0 ] && [ "$fo" = 0 ] && [ "$nb" -gt 10 ] && [ "$no" -gt 10 ] &&
    ok "kill -9 of node A under load: B answered $nb/$nb, the OCSP node $no/$no" || bad "after kill -9: B $fb/$nb failed, O $fo/$no failed"
node A "$HA" "127.0.0.1:$SA"

# ---- PostgreSQL stopped under load: fail static, then recovery by itself ------------------------
for p in "$HB" "$HO"; do [ "$(status_at "$p" "$T/y.pem")" = good ] || bad "y not cached on $p"; done
issue z # never asked for on B: no status of it held there
nonce_at() { # http-port cert -> the status line of a nonce answer (nonce checked by openssl)
    openssl ocsp -issuer "$D/ca/intermediate.pem" -cert "$2" -url "http://127.0.0.1:$1/ocsp" \
        -CAfile "$D/ca/root.pem" >"$T/nonce.txt" 2>&1 || true
    sed -n "s|^$2: ||p" "$T/nonce.txt"
}
TOKB=$("$ZTCA" token create --dir "$D" --server "https://127.0.0.1:$SB" --user alice 2>/dev/null)
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PRIMARY_DIR/data" -m fast -w stop >/dev/null
load "$HB" 2 >"$T/load.b" &
lb=$!
load "$HO" 2 >"$T/load.o" &
lo=$!
csr_json=$("$LIB_PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/y.csr")
code=$(curl -sS -o "$T/down.json" -D "$T/down.h" -w '%{http_code}' --cacert "$D/ca/root.pem" -H "Authorization: Bearer $TOKB" \
    -H 'Content-Type: application/json' --data "{\"csr\":$csr_json}" "https://127.0.0.1:$SB/v1/certs")
[ "$code" = 503 ] && grep -qi "^Retry-After:" "$T/down.h" && ok "primary down: issuance answers 503 with Retry-After" || bad "issuance while down: $code $(cat "$T/down.json")"
curl -sS "http://127.0.0.1:$HB/healthz" | grep -q '"status":"degraded"' && ok "primary down: /healthz of B says degraded" || bad "healthz while down"
# A nonce answer needs a signature now, and a status: the one B holds for y, read before the
# primary stopped (as fresh as its cached answer); for z it holds none, so tryLater.
[ "$(nonce_at "$HB" "$T/y.pem")" = good ] && grep -q "Response verify OK" "$T/nonce.txt" &&
    ok "primary down: a nonce answer for y from the status B holds (fail static)" || bad "nonce for y while down: $(head -3 "$T/nonce.txt")"
nonce_at "$HB" "$T/z.pem" >/dev/null
grep -qi "trylater" "$T/nonce.txt" && ok "primary down: a nonce answer for z, never read on B: tryLater" || bad "nonce for z while down: $(head -3 "$T/nonce.txt")"
wait "$lb" "$lo"
read -r nb fb <"$T/load.b"
read -r no fo <"$T/load.o"
[ "$fb" = 0 ] && [ "$nb" -gt 5 ] && ok "primary down: B answered all $nb cached OCSP requests (fail static)" || bad "B while down: $fb/$nb failed"
[ "$fo" = 0 ] && [ "$no" -gt 5 ] && ok "primary down: the OCSP node answered all $no (its replica is up)" || bad "O while down: $fo/$no failed"
pg_primary_start || { bad "primary did not restart"; exit 1; }
code=000
for _ in $(seq 1 100); do
    code=$(curl -sS -o "$T/up.json" -w '%{http_code}' --cacert "$D/ca/root.pem" -H "Authorization: Bearer $TOKB" \
        -H 'Content-Type: application/json' --data "{\"csr\":$csr_json}" "https://127.0.0.1:$SB/v1/certs")
    [ "$code" = 201 ] && break
    sleep 0.1
done
[ "$code" = 201 ] && ok "primary back: issuance on B works again without a restart (the token survived)" || bad "after restart: $code $(cat "$T/up.json")"
t0=$(date +%s%N)
"$ZTCA" cert revoke --dir "$D" --server "https://127.0.0.1:$SA" "$(serial_of "$T/y.pem")" >/dev/null
GP=$GY
cp "$T/y.pem" "$T/x.pem" # watch() reads x.pem
ms=$(watch "$t0" "$HB")
[ "$ms" -lt 9999 ] && ok "the change feed of B recovered: revocation seen after ${ms} ms" || bad "feed of B after the restart"
ms=$(watch "$t0" "$HO")
[ "$ms" -lt 9999 ] && ok "the OCSP node follows after the primary's restart (${ms} ms)" || bad "OCSP node after the restart"

# ---- concurrent issuance on two nodes ---------------------------------------------------------
N=15
for i in $(seq 1 $N); do
    "$ZTCA" token create --dir "$D" --server "https://127.0.0.1:$SA" --user "u$i" 2>/dev/null >"$T/tok.a.$i"
    "$ZTCA" token create --dir "$D" --server "https://127.0.0.1:$SB" --user "v$i" 2>/dev/null >"$T/tok.b.$i"
done
issue_on() { # https-port token-file out
    openssl ecparam -name prime256v1 -genkey -noout -out "$3.key"
    openssl req -new -key "$3.key" -subj /CN=x -out "$3.csr"
    local cj
    cj=$("$LIB_PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$3.csr")
    curl -sS -o "$3" -w '%{http_code}\n' --cacert "$D/ca/root.pem" -H "Authorization: Bearer $(cat "$2")" \
        -H 'Content-Type: application/json' --data "{\"csr\":$cj}" "https://127.0.0.1:$1/v1/certs" >"$3.code"
}
jobs_=()
for i in $(seq 1 $N); do
    issue_on "$SA" "$T/tok.a.$i" "$T/ca.$i" &
    jobs_+=($!)
    issue_on "$SB" "$T/tok.b.$i" "$T/cb.$i" &
    jobs_+=($!)
done
wait "${jobs_[@]}" # not the nodes, which are children too
codes=$(cat "$T"/c[ab].*.code | sort | uniq -c | tr -s ' ')
serials=$("$LIB_PY" - "$T" "$N" <<'PY'
import json, sys, glob
s = [json.load(open(f))["serial"] for f in glob.glob(sys.argv[1] + "/c[ab].[0-9]*") if not f.endswith((".code", ".key", ".csr"))]
print(len(s), len(set(s)))
PY
)
[ "$codes" = " $((2 * N)) 201" ] && [ "$serials" = "$((2 * N)) $((2 * N))" ] &&
    ok "$((2 * N)) concurrent issuances on two nodes: all 201, all serials distinct" || bad "concurrent issuance: codes [$codes] serials [$serials]"
for i in 1 $N; do
    s=$("$LIB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$T/cb.$i")
    "$ZTCA" cert show --dir "$D" --server "https://127.0.0.1:$SA" "$s" >/dev/null || bad "cert $s from B not visible on A"
done
"$ZTCA" audit verify --dir "$D" >"$T/audit.txt" 2>&1 && ok "audit chain verifies after concurrent writes on two nodes" || bad "audit: $(cat "$T/audit.txt")"

# ---- the OCSP node writes nothing and serves nothing else ---------------------------------------
code=$(curl -sS -o "$T/o.json" -w '%{http_code}' "http://127.0.0.1:$HO/v1/tokens" -X POST -d '{}')
[ "$code" = 404 ] || [ "$code" = 403 ] && ok "OCSP node: no API routes ($code)" || bad "OCSP node API: $code"
curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HO/crl" | grep -q 200 && ok "OCSP node serves the CRL" || bad "OCSP node CRL"
grep -q "read-only\|cannot execute" "$T/O.log" && bad "the OCSP node tried to write: $(grep -m1 'read-only\|cannot execute' "$T/O.log")" || ok "the OCSP node never tried to write to the replica"
lib_finish
