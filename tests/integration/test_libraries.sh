#!/usr/bin/env bash
# libpq and libcurl are opened when first used (docs/performance.md "Memory"): `ztca serve` on
# SQLite maps neither; a PostgreSQL URL loads libpq and an admin command loads libcurl; a library
# of that name without the functions ztca calls (here an empty stand-in first on
# LD_LIBRARY_PATH) is a clear error and exit 1, never a crash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ZTCA=${ZTCA_BIN:?ZTCA_BIN must name the ztca binary}
lib_need cc --version
lib_need curl --version

lib_harness

HTTP=$(lib_free_port)
HTTPS=$(lib_free_port)
D="$T/ca"
"$ZTCA" init --dir "$D" --trust-domain corp.example --public-url "http://127.0.0.1:$HTTP" \
    --api-url "https://127.0.0.1:$HTTPS" >/dev/null

# ---- what a SQLite server maps ----------------------------------------------------------------
"$ZTCA" serve --dir "$D" --listen-http "127.0.0.1:$HTTP" --listen-https "127.0.0.1:$HTTPS" 2>"$T/serve.log" &
SERVER=$!
PIDS+=("$SERVER")
lib_wait_http "http://127.0.0.1:$HTTP/healthz" 20 || { bad "server did not start"; cat "$T/serve.log" >&2; exit 1; }
# Into a file first: `grep -q` on a pipe ends it early, and pipefail would turn that into "no match".
for p in "$SERVER" $(pgrep -P "$SERVER"); do cat "/proc/$p/maps"; done >"$T/maps"
[ "$(pgrep -c -P "$SERVER")" -ge 1 ] && grep -q 'libc\.so' "$T/maps" || bad "could not read the maps of the server's processes"
if grep -qE 'libpq\.so|libcurl\.so' "$T/maps"; then
    bad "a SQLite ztca serve maps $(grep -oE 'libpq\.so[.0-9]*|libcurl\.so[.0-9]*' "$T/maps" | sort -u | tr '\n' ' ')"
else
    ok "a SQLite ztca serve (both processes) maps neither libpq nor libcurl"
fi
# An admin command over the API loads libcurl, and works.
"$ZTCA" token create --dir "$D" --user alice >"$T/token" 2>"$T/token.err" && grep -q . "$T/token" &&
    ok "ztca token create (libcurl loaded on use) works" || bad "token create: $(cat "$T/token.err")"
lib_stop "$SERVER" "ztca serve"

# ---- stand-ins without the functions ----------------------------------------------------------
mkdir "$T/fake"
echo 'int ztca_not_libpq_or_libcurl;' >"$T/fake/empty.c"
cc -shared -fPIC -o "$T/fake/libpq.so.5" "$T/fake/empty.c"
cp "$T/fake/libpq.so.5" "$T/fake/libcurl.so.4"
set +e
LD_LIBRARY_PATH="$T/fake" "$ZTCA" audit verify --dir "$D" --store "postgresql://ztca@127.0.0.1:1/ztca" \
    >"$T/pq.out" 2>"$T/pq.err"
st=$?
set -e
[ "$st" = 1 ] && grep -q 'libpq.so.5 lacks PQ[A-Za-z]*: libpq 14 or later is needed' "$T/pq.err" &&
    ok "a libpq without its functions: exit 1, \"$(grep -o 'libpq.so.5 lacks [A-Za-z]*' "$T/pq.err")\"" ||
    bad "stand-in libpq: exit $st, $(cat "$T/pq.err")"
set +e
LD_LIBRARY_PATH="$T/fake" "$ZTCA" token create --dir "$D" --user bob >"$T/curl.out" 2>"$T/curl.err"
st=$?
set -e
[ "$st" = 1 ] && grep -q 'libcurl.so.4 lacks curl_[a-z_]*' "$T/curl.err" && [ ! -s "$T/curl.out" ] &&
    ok "a libcurl without its functions: exit 1, \"$(grep -o 'libcurl.so.4 lacks [a-z_]*' "$T/curl.err")\"" ||
    bad "stand-in libcurl: exit $st, $(cat "$T/curl.err")"
lib_finish
