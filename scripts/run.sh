#!/usr/bin/env bash
# The run command (README): installs what ztca needs, builds it, creates a CA in ./ztca-data
# (or $ZTCA_DIR) if there is none, and runs `ztca serve` on localhost with the embedded SQLite
# store, in the foreground (Ctrl-C stops it). Ports: $ZTCA_HTTPS_PORT (8443), $ZTCA_HTTP_PORT (8080).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
dir=${ZTCA_DIR:-$top/ztca-data}
td=${ZTCA_TRUST_DOMAIN:-ztca.test}
https_port=${ZTCA_HTTPS_PORT:-8443}
http_port=${ZTCA_HTTP_PORT:-8080}

bash scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
ztca=$top/build/ztca

if [ ! -f "$dir/ztca.conf" ]; then
    "$ztca" init --dir "$dir" --trust-domain "$td" \
        --public-url "http://127.0.0.1:$http_port" --api-url "https://127.0.0.1:$https_port"
fi

cat <<EOT

ztca serves on https://127.0.0.1:$https_port (API) and http://127.0.0.1:$http_port (public).
In another terminal:

  curl http://127.0.0.1:$http_port/healthz
  # a one-time token for user alice (the admin CLI uses $dir/admin over mTLS):
  TOKEN=\$($ztca token create --dir $dir --user alice)
  # a key and a CSR, then a certificate for it:
  openssl ecparam -name prime256v1 -genkey -noout -out alice.key
  openssl req -new -key alice.key -subj /CN=alice -out alice.csr
  curl -sS --cacert $dir/ca/root.pem -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' \\
       --data "{\"csr\": \"\$(awk '{printf "%s\\\\n", \$0}' alice.csr)\"}" \\
       https://127.0.0.1:$https_port/v1/certs
  $ztca cert list --dir $dir

EOT
exec "$ztca" serve --dir "$dir" --listen-https "127.0.0.1:$https_port" \
    --listen-http "127.0.0.1:$http_port"
