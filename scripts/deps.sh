#!/usr/bin/env bash
# Installs what ztca needs on Debian 12: `deps.sh build` for building and running ztca,
# `deps.sh test` adds the compilers, sanitizer runtimes and the real peers the tests run against.
set -euo pipefail
what=${1:-build}
build=(build-essential cmake pkg-config libmbedtls-dev libjansson-dev libsqlite3-dev libpq-dev
    libmicrohttpd-dev libtss2-dev libcurl4-openssl-dev libssl-dev openssl ca-certificates curl)
test=(clang clang-format clang-tidy libclang-rt-14-dev libcunit1-dev python3 gnutls-bin sqlite3
    python3-cryptography postgresql swtpm swtpm-tools tpm2-tools tpm2-abrmd tpm2-openssl
    libtss2-tcti-tabrmd0 nginx golang-cfssl wrk apache2-utils procps iproute2 faketime jq bc)
pkgs=("${build[@]}")
[ "$what" = test ] && pkgs+=("${test[@]}")

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
