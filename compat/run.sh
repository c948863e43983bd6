#!/usr/bin/env bash
# Microsoft's own MAA clients against a real Attesta server.
#
# Installs PyPI azure-security-attestation 1.0.0 (in a virtual environment)
# and npm @azure/attestation 1.0.0, writes testkit evidence under a test root
# (`attesta sample openenclave`) and policy-signing keys, starts `attesta
# serve` over HTTPS on a loopback port with a CA the clients are told to
# trust, creates an aad provider and an isolated provider (both trusting the
# sample's test root — explicit provider configuration), imports the
# sample's collateral, and runs every client operation with the clients' own
# token validation on. Each operation prints PASS or FAIL; the script exits 1
# when any fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
work=${COMPAT_WORK:-$repo/target/compat}
mkdir -p "$work"

echo "compat: building attesta"
cargo build --quiet --locked -p attesta-cli --manifest-path "$repo/Cargo.toml"
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/debug/attesta"

echo "compat: installing the Python client"
[ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

echo "compat: installing the JavaScript client"
mkdir -p "$work/node"
cp "$here/package.json" "$here/package-lock.json" "$here/compat.mjs" "$work/node/"
(cd "$work/node" && npm ci --silent --no-audit --no-fund)

echo "compat: writing evidence and keys"
m="$work/material"
rm -rf "$m"
mkdir -p "$m"
# The runtime data of Microsoft's own SDK tests: a JSON text holding an EC JWK.
cp "$repo/../shared/vectors/maa-sdk/runtime_data.bin" "$m/runtime.json"
head -c 48 /dev/urandom > "$m/init.bin"
"$bin" sample openenclave --out "$m/sample" --runtime-data "$m/runtime.json" --init-time-data "$m/init.bin"
"$work/venv/bin/python" "$here/keys.py" "$m/keys"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"
data="$m/data"
echo "compat: starting attesta on $url"
ATTESTA_COLLATERAL__PCS_URL="" "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" --log-format json \
  2> "$m/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if [ -f "$data/tls/cert.pem" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$m/server.log"; echo "compat: the server exited"; exit 1; fi
  sleep 0.1
done

aad_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
common=(--url "$url" --data-dir "$data")
"$bin" provider create compat-aad --aad-token "$aad_token" \
  --test-root-intel "$m/sample/test_root.pem" "${common[@]}" > /dev/null
iso_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$bin" provider create compat-iso --trust-model isolated --aad-token "$iso_token" \
  --policy-cert "$m/keys/rsa.pem" --policy-cert "$m/keys/ec.pem" --policy-cert "$m/keys/rsa3.pem" \
  --test-root-intel "$m/sample/test_root.pem" "${common[@]}" > /dev/null
"$bin" collateral import "$m/sample/collateral" "${common[@]}" > /dev/null

export COMPAT_URL="$url" COMPAT_CA="$data/tls/cert.pem" COMPAT_MATERIAL="$m" \
  COMPAT_AAD_PROVIDER=compat-aad COMPAT_AAD_TOKEN="$aad_token" COMPAT_ISO_PROVIDER=compat-iso COMPAT_ISO_TOKEN="$iso_token"
status=0
"$work/venv/bin/python" "$here/compat.py" || status=1
(cd "$work/node" && NODE_EXTRA_CA_CERTS="$data/tls/cert.pem" node compat.mjs) || status=1
if [ "$status" -ne 0 ]; then
  echo "compat: server log tail:"
  tail -n 40 "$m/server.log"
  echo "compat: FAILED"
else
  echo "compat: all Microsoft SDK operations passed"
fi
exit "$status"
