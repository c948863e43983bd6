#!/usr/bin/env bash
# The web console end to end in headless Chromium.
#
# Uses Debian's chromium package (installed here with apt-get when
# /usr/bin/chromium is missing and we are root; Playwright's own browser
# download is not used) driven by playwright-core (pinned in
# package-lock.json, installed with npm ci). Starts `attesta serve` on a
# fresh data directory and a free loopback port, makes a synthetic SGX
# sample (`attesta sample sgx`), creates provider `lab` trusting its test
# root and imports its collateral, then runs console.test.mjs (node:test):
# log in, edit a policy with a syntax error (the error shown at its line and
# column), fix it, save it, dry-run it, attest the sample in the console,
# inspect the token (its claims, including the one the saved policy issues,
# and "signature valid"), the collateral list, log out. On failure the page's
# screenshot and the server log are kept in the work directory, whose path is
# printed. Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "console: installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium > /dev/null
  else
    echo "console: $chromium is missing; install Debian's chromium package (apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi

echo "console: building attesta"
cargo build --quiet --locked -p attesta-cli --manifest-path "$repo/Cargo.toml"
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/debug/attesta"

echo "console: installing playwright-core (npm ci)"
(cd "$here" && npm ci --silent --no-audit --no-fund)

work=$(mktemp -d -t attesta-console.XXXXXX)
data="$work/data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"
echo "console: starting attesta on $url (work directory $work)"
ATTESTA_COLLATERAL__PCS_URL="" ATTESTA_COLLATERAL__KDS_URL="" \
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" 2> "$work/server.log" &
pid=$!
status=1
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$status" = 0 ]; then rm -rf "$work"; else echo "console: kept $work (screenshot, server.log)"; fi
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  if [ -f "$data/tls/cert.pem" ] && [ -f "$data/admin-token" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log"; echo "console: the server exited"; exit 1; fi
  sleep 0.1
done
common=(--url "$url" --data-dir "$data")

"$bin" sample sgx --out "$work/demo" > /dev/null 2>&1
"$bin" provider create lab --test-root-intel "$work/demo/test_root.pem" "${common[@]}" > /dev/null
"$bin" collateral import "$work/demo/collateral" "${common[@]}" > /dev/null

echo "console: browser tests"
set +e
CONSOLE_URL="$url" CONSOLE_CA="$data/tls/cert.pem" CONSOLE_ADMIN_TOKEN="$(cat "$data/admin-token")" \
  CONSOLE_QUOTE="$work/demo/quote.bin" CONSOLE_WORK="$work" CHROMIUM="$chromium" \
  node --test --test-reporter=spec "$here/console.test.mjs"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  echo "console: server log, warnings and errors:"
  grep -v ' INFO ' "$work/server.log" | tail -n 30 || true
  echo "console: FAILED"
else
  echo "console: all browser tests passed"
fi
exit "$status"
