#!/usr/bin/env bash
# The run command (README): installs what ztca needs, builds it, creates a CA in ./ztca-data
# (or $ZTCA_DIR) if there is none, and shows it working on localhost.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${ZTCA_DIR:-$(pwd)/ztca-data}
td=${ZTCA_TRUST_DOMAIN:-ztca.test}

bash scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
ztca=$(pwd)/build/ztca

if [ ! -f "$dir/ztca.conf" ]; then
    "$ztca" init --dir "$dir" --trust-domain "$td"
fi

# The HTTP API and OCSP responder (`ztca serve`) come with their issues; until then, a
# certificate issued offline shows the CA working end to end.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/demo.key"
openssl req -new -key "$tmp/demo.key" -subj /CN=demo -out "$tmp/demo.csr"
"$ztca" issue --dir "$dir" --csr "$tmp/demo.csr" --profile agent --user demo --out "$tmp/demo.pem"
openssl verify -x509_strict -purpose sslclient -CAfile "$dir/ca/root.pem" \
    -untrusted "$dir/ca/intermediate.pem" "$tmp/demo.pem"
openssl x509 -in "$tmp/demo.pem" -noout -subject -ext subjectAltName -enddate
echo
echo "CA ready in $dir. Issue more with:"
echo "  $ztca issue --dir $dir --csr FILE --profile device|agent|workload|admin ..."
