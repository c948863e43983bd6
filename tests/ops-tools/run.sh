#!/usr/bin/env bash
# Standard tools against a live Attesta server: PyJWT's PyJWKClient
# validates an attestation token using only the JWKS the OpenID metadata
# names (/certs).
#
# Makes its own virtual environment (PyPI packages pinned in
# requirements.txt), writes `attesta sample sgx` evidence under a test root,
# starts `attesta serve` on a loopback port, creates a provider trusting the
# sample's root, imports the sample's collateral and runs the checks. Each
# check prints PASS or FAIL; the script exits 1 when any fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${OPS_WORK:-$repo/target/ops-tools}
mkdir -p "$work"

echo "ops-tools: building attesta"
cargo build --quiet --locked -p attesta-cli --manifest-path "$repo/Cargo.toml"
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/debug/attesta"

echo "ops-tools: installing PyJWT and cryptography"
[ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

m="$work/material"
rm -rf "$m"
mkdir -p "$m"
"$bin" sample sgx --out "$m/sample" > /dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"
data="$m/data"
echo "ops-tools: starting attesta on $url"
ATTESTA_COLLATERAL__PCS_URL="" ATTESTA_COLLATERAL__KDS_URL="" "$bin" serve --listen "127.0.0.1:$port" \
  --data-dir "$data" --log-format json 2> "$m/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if [ -f "$data/tls/cert.pem" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$m/server.log"; echo "ops-tools: the server exited"; exit 1; fi
  sleep 0.1
done

common=(--url "$url" --data-dir "$data")
"$bin" provider create ops --test-root-intel "$m/sample/test_root.pem" "${common[@]}" > /dev/null
"$bin" collateral import "$m/sample/collateral" "${common[@]}" > /dev/null

status=0
OPS_URL="$url" OPS_CA="$data/tls/cert.pem" OPS_PROVIDER=ops OPS_QUOTE="$m/sample/quote.bin" \
  "$work/venv/bin/python" "$here/pyjwt_certs.py" || status=1
if [ "$status" -ne 0 ]; then
  echo "ops-tools: server log tail:"
  tail -n 40 "$m/server.log"
  echo "ops-tools: FAILED"
else
  echo "ops-tools: all checks passed"
fi
exit "$status"
