#!/usr/bin/env bash
# The relying-party examples against a live server, and the default TLS
# certificate against Python's ssl (OpenSSL) and Node's tls.
#
# Starts `attesta serve` on a loopback port (hostnames = ["attest.localtest"]),
# makes a sample attestation (`attesta sample openenclave` + `attesta attest
# --raw`), then runs examples/relying-party/python (PyJWT, in a venv),
# examples/relying-party/js (jose, npm ci) and the token crate's
# relying_party example on: the real token (valid), the same token for
# another issuer, a tampered token, and a token signed by another key that
# names its own key set in `jku` (each refused). Prints PASS/FAIL per case and
# exits 1 when any fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${RP_WORK:-$repo/target/relying-party}
rp="$repo/examples/relying-party"
mkdir -p "$work"

cargo build --quiet --locked -p attesta-cli --manifest-path "$repo/Cargo.toml"
cargo build --quiet --locked -p attesta-token --example relying_party --manifest-path "$repo/Cargo.toml"
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/debug/attesta"
rust_rp="$target/debug/examples/relying_party"

[ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$rp/python/requirements.txt"
mkdir -p "$work/js"
cp "$rp/js/package.json" "$rp/js/package-lock.json" "$rp/js/verify.mjs" "$work/js/"
(cd "$work/js" && npm ci --silent --no-audit --no-fund)

m="$work/material"
rm -rf "$m"
mkdir -p "$m"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"
data="$m/data"
printf 'hostnames = ["attest.localtest"]\n' > "$m/attesta.toml"
ATTESTA_COLLATERAL__PCS_URL="" ATTESTA_COLLATERAL__KDS_URL="" \
  "$bin" serve --config "$m/attesta.toml" --listen "127.0.0.1:$port" --data-dir "$data" 2> "$m/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if [ -f "$data/admin-token" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$m/server.log"; echo "relying-party: the server exited"; exit 1; fi
  sleep 0.1
done
ca="$data/tls/cert.pem"
common=(--url "$url" --data-dir "$data")

"$bin" sample openenclave --out "$m/demo" --runtime-data "$repo/examples/runtime.json" 2>/dev/null
"$bin" provider create lab --test-root-intel "$m/demo/test_root.pem" "${common[@]}" > /dev/null
"$bin" collateral import "$m/demo/collateral" "${common[@]}" > /dev/null
"$bin" attest OpenEnclave --evidence "$m/demo/report.bin" --runtime-data "$repo/examples/runtime.json" \
  --runtime-json --provider lab --raw "${common[@]}" > "$m/token.jwt"
issuer="$url/providers/lab"

# Variants: another issuer's expectation, a flipped payload byte, and a token
# signed by an attacker's key that points jku at the attacker's key set.
"$work/venv/bin/python" - "$m" "$issuer" <<'PY'
import base64, json, sys, time
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
m, issuer = sys.argv[1], sys.argv[2]
token = open(f"{m}/token.jwt").read().strip()
h, p, s = token.split(".")
payload = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
payload["x-ms-sgx-is-debuggable"] = True
p2 = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
open(f"{m}/tampered.jwt", "w").write(f"{h}.{p2}.{s}")
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
header = jwt.get_unverified_header(token)
now = int(time.time())
claims = dict(payload, iat=now, nbf=now, exp=now + 600)
for name, kid in (("jku-new-kid.jwt", "attacker"), ("jku-same-kid.jwt", header["kid"])):
    forged = jwt.encode(claims, key, algorithm="RS256",
                        headers={"kid": kid, "jku": "https://attacker.example/certs"})
    open(f"{m}/{name}", "w").write(forged)
PY

fail=0
check() { # NAME EXPECTED_EXIT COMMAND... (a valid token must print its claims)
  local name=$1 want=$2; shift 2
  local got=0
  "$@" > "$m/out.txt" 2> "$m/err.txt" || got=$?
  if [ "$got" = "$want" ] && { [ "$want" != 0 ] || [ "${name#tls}" != "$name" ] ||
    grep -q '"x-ms-attestation-type"' "$m/out.txt"; }; then
    echo "PASS $name"
  else
    echo "FAIL $name (exit $got, expected $want)"; sed 's/^/    /' "$m/err.txt" | head -5; fail=1
  fi
}
py() { "$work/venv/bin/python" "$rp/python/verify.py" --ca "$ca" "$@"; }
js() { NODE_EXTRA_CA_CERTS="$ca" node "$work/js/verify.mjs" "$@"; }
rs() { "$rust_rp" --ca "$ca" "$@"; }
for lang in py js rs; do
  check "$lang: valid token" 0 $lang --issuer "$issuer" "$m/token.jwt"
  check "$lang: another issuer expected" 1 $lang --issuer "$url" "$m/token.jwt"
  check "$lang: tampered payload" 1 $lang --issuer "$issuer" "$m/tampered.jwt"
  check "$lang: jku to another key set, new kid" 1 $lang --issuer "$issuer" "$m/jku-new-kid.jwt"
  check "$lang: jku to another key set, the issuer's kid" 1 $lang --issuer "$issuer" "$m/jku-same-kid.jwt"
done

# The default certificate: every name it must serve is accepted by OpenSSL
# (Python's ssl) and by Node; a name it does not carry is refused.
for name in 127.0.0.1 localhost attest.localtest lab.attest.localtest; do
  check_tls() {
    "$work/venv/bin/python" -c '
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as s:
    with ctx.wrap_socket(s, server_hostname=sys.argv[3]):
        pass' "$ca" "$port" "$1" &&
    node -e '
const tls = require("tls"), fs = require("fs");
const [ca, port, name] = process.argv.slice(1);
const s = tls.connect({ host: "127.0.0.1", port: +port, servername: name.match(/^[0-9.]+$/) ? undefined : name,
  ca: fs.readFileSync(ca), checkServerIdentity: (_, cert) => tls.checkServerIdentity(name, cert) },
  () => { s.end(); });
s.on("error", (e) => { console.error(e.message); process.exit(1); });' "$ca" "$port" "$1"
  }
  check "tls (python ssl, node): $name" 0 check_tls "$name"
done
check "tls (python ssl): other.example is refused" 1 check_tls other.example

exit $fail
