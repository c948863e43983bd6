#!/usr/bin/env bash
# The OpenAPI contract of a live Attesta server.
#
# Makes a Python virtual environment in a temporary directory (PyPI
# packages pinned in requirements.txt: openapi-spec-validator and
# schemathesis), starts `attesta serve` on a fresh data directory and a free
# loopback port, validates the document it serves at /openapi.json with
# openapi-spec-validator, then runs schemathesis against the server with
# that document: every operation, positive and negative data, with the
# checks not_a_server_error, status_code_conformance,
# content_type_conformance, response_schema_conformance and
# response_headers_conformance. TLS is verified against the server's own
# certificate; every request carries the admin token as its bearer token
# (it is accepted by the control plane too).
#
# The fuzzer sends bursts, and failed authentications, from one address:
# the test server's throttles are raised far above the defaults (and the
# 250 ms hold of a throttled reply is off) so that it measures the API, not
# the throttles. 429 is still documented wherever the server can send it.
#
# Bounded: CONTRACT_MAX_EXAMPLES test cases per operation (default 30) and
# a fixed seed (CONTRACT_SEED, default 1) so that a run is repeatable; set
# CONTRACT_SEED=random to explore. One schemathesis worker: CPython 3.11's
# ast.parse is not safe to run in two threads at once, and hypothesis calls
# it while describing strategies. Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d -t attesta-contract.XXXXXX)
max_examples=${CONTRACT_MAX_EXAMPLES:-30}
seed=${CONTRACT_SEED:-1}

echo "contract: building attesta"
cargo build --quiet --locked -p attesta-cli --manifest-path "$repo/Cargo.toml"
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/debug/attesta"

echo "contract: installing openapi-spec-validator and schemathesis"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

data="$work/data"
mkdir -p "$data"
cat > "$work/attesta.toml" <<'TOML'
# Throttles far above the defaults: the fuzzer is one client sending bursts.
[limits]
attest_per_ip_per_sec = 100000.0
attest_per_ip_burst = 100000.0
attest_per_provider_per_sec = 100000.0
attest_per_provider_burst = 100000.0
control_per_ip_per_sec = 100000.0
control_per_ip_burst = 100000.0
control_per_provider_per_sec = 100000.0
control_per_provider_burst = 100000.0
auth_failures_per_ip_per_sec = 100000.0
auth_failures_per_ip_burst = 100000.0
throttled_reply_delay_ms = 0
policy_cpu_ms_per_provider_per_sec = 100000.0
policy_cpu_ms_per_provider_burst = 100000.0
TOML

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"
echo "contract: starting attesta on $url"
ATTESTA_COLLATERAL__PCS_URL="" ATTESTA_COLLATERAL__KDS_URL="" "$bin" serve --config "$work/attesta.toml" \
  --listen "127.0.0.1:$port" --data-dir "$data" --log-format json 2> "$work/server.log" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  if [ -f "$data/tls/cert.pem" ] && [ -f "$data/admin-token" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log"; echo "contract: the server exited"; exit 1; fi
  sleep 0.1
done
ca="$data/tls/cert.pem"
admin=$(cat "$data/admin-token")

echo "contract: validating the served /openapi.json"
curl --silent --show-error --fail --cacert "$ca" "$url/openapi.json" -o "$work/openapi.json"
"$work/venv/bin/openapi-spec-validator" "$work/openapi.json"

echo "contract: schemathesis (max $max_examples examples per operation, seed $seed)"
seed_args=()
[ "$seed" = random ] || seed_args=(--seed "$seed")
status=0
cd "$work" # schemathesis writes its working files into the current directory
"$work/venv/bin/schemathesis" run "$work/openapi.json" \
  --url "$url" \
  --tls-verify "$ca" \
  --header "Authorization: Bearer $admin" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "$max_examples" \
  "${seed_args[@]}" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --output-sanitize true \
  || status=$?
if [ "$status" -ne 0 ]; then
  echo "contract: server log, warnings and errors:"
  grep -v '"level":"INFO"' "$work/server.log" | tail -n 40 || true
  echo "contract: FAILED"
else
  echo "contract: zero failures"
fi
exit "$status"
