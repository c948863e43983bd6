#!/usr/bin/env bash
# The signed statement of a release's own measurements, as the release
# process makes it: what relying parties pin with
# `attesta token verify --require-tee --tee-statement FILE --tee-statement-cert CERT`.
#
# Inputs (environment):
#   KIND            the evidence the release runs as: sgx-quote, tdx-quote or
#                   snp-report (required)
#   MEASUREMENTS    space-separated NAME=HEX pairs of the release build's
#                   measurements, e.g. "x-ms-sgx-mrenclave=<64 hex>
#                   x-ms-sgx-mrsigner=<64 hex>" (SGX: from the signed enclave;
#                   TDX: tdx_mrtd=… and the RTMRs of the image; SEV-SNP:
#                   x-ms-sevsnpvm-launchmeasurement=… of the launch digest)
#                   (required)
#   SIGNING_KEY     the release signer's PEM private key (required)
#   SIGNING_CERT    its PEM certificate, the one published for relying
#                   parties (required)
#   RELEASE         the release [default: the workspace version in Cargo.toml]
#   OUT             where to write the statement
#                   [default: dist/attesta-$RELEASE-$KIND.statement.jws]
#   ATTESTA         the attesta binary [default: built here with cargo]
#
# Writes OUT, verifies it against SIGNING_CERT, and prints its SHA-256.
# Make the signer once with
#   attesta policy-cert new --key release.key --cert release.pem \
#     --common-name "Attesta release signer"
# and keep the key offline; publish release.pem and each OUT with the release.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

: "${KIND:?set KIND to sgx-quote, tdx-quote or snp-report}"
: "${MEASUREMENTS:?set MEASUREMENTS to NAME=HEX pairs}"
: "${SIGNING_KEY:?set SIGNING_KEY to the release signer PEM key}"
: "${SIGNING_CERT:?set SIGNING_CERT to the release signer PEM certificate}"
if [ -z "${RELEASE:-}" ]; then
  RELEASE=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
fi
[ -n "$RELEASE" ] || { echo "error: no RELEASE and no workspace version in Cargo.toml" >&2; exit 2; }
OUT=${OUT:-$repo/dist/attesta-$RELEASE-$KIND.statement.jws}

if [ -z "${ATTESTA:-}" ]; then
  cargo build --quiet --locked --release -p attesta-cli --manifest-path "$repo/Cargo.toml"
  target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  ATTESTA="$target/release/attesta"
fi

args=()
for m in $MEASUREMENTS; do
  args+=(--measurement "$m")
done
mkdir -p "$(dirname "$OUT")"
"$ATTESTA" release statement --json --release "$RELEASE" --kind "$KIND" "${args[@]}" \
  --key "$SIGNING_KEY" --cert "$SIGNING_CERT" --out "$OUT" > /dev/null
"$ATTESTA" release verify --json "$OUT" --cert "$SIGNING_CERT" > /dev/null
echo "wrote $OUT"
sha256sum "$OUT"
