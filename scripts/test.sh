#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this script).
#
# It needs nothing installed by hand beyond the machine's Rust toolchain:
# whatever a later stage needs (PostgreSQL, swtpm, the Microsoft SDKs) is
# installed or started by that stage itself.
set -euo pipefail
cd "$(dirname "$0")/.."

stage() { printf '\n==> %s\n' "$*"; }

stage "formatting (cargo fmt --check)"
cargo fmt --all -- --check

stage "lints (cargo clippy --all-targets -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

stage "dependency bans (no OpenSSL or native TLS anywhere in the tree)"
scripts/check-deps.sh

stage "fuzz targets compile"
if [ -f fuzz/Cargo.toml ]; then
  cargo check --manifest-path fuzz/Cargo.toml --bins --quiet
fi

stage "tests (cargo test --workspace)"
cargo test --workspace --locked

stage "software TPM (swtpm + tpm2-tools): real quotes through attesta verify tpm"
swtpm_dir=$(mktemp -d)
bash tests/tpm-sim/make-evidence.sh "$swtpm_dir/on"
bash tests/tpm-sim/make-evidence.sh --secure-boot off "$swtpm_dir/off"
ATTESTA_SWTPM_EVIDENCE="$swtpm_dir" cargo test --locked -p attesta-cli --test swtpm -- --ignored
rm -rf "$swtpm_dir"
cargo test --locked -p attesta-server --test tpm_swtpm -- --ignored

stage "Microsoft's Rust guest attestation client (azure-guest-attestation-sdk) over swtpm against the server"
# Its own workspace and lock file (tests/azure-guest-sdk/Cargo.toml says
# why); the target directory is shared so the server is built once.
sdk=tests/azure-guest-sdk/Cargo.toml
cargo fmt --manifest-path "$sdk" -- --check
CARGO_TARGET_DIR="$PWD/target" cargo clippy --manifest-path "$sdk" --all-targets --locked -- -D warnings
CARGO_TARGET_DIR="$PWD/target" cargo test --manifest-path "$sdk" --locked -- --ignored

stage "Microsoft SDK compatibility (Python azure-security-attestation, JS @azure/attestation)"
bash compat/run.sh

stage "standard tools (PyJWT's PyJWKClient validates a token with /certs alone)"
bash tests/ops-tools/run.sh

stage "OpenAPI contract (openapi-spec-validator on /openapi.json, schemathesis against a live server)"
bash tests/contract/run.sh

stage "web console in headless Chromium (Debian's chromium through playwright-core: tests/console/run.sh)"
bash tests/console/run.sh

stage "relying-party examples (Python PyJWT, JavaScript jose, the token crate) and the default TLS certificate against Python's ssl and Node"
bash scripts/relying-party-test.sh

stage "README quick start (scripts/readme-test.sh runs README.md's shell blocks in a fresh directory)"
bash scripts/readme-test.sh

stage "deployment files (Helm chart, systemd unit, Containerfile: scripts/deploy-check.sh)"
bash scripts/deploy-check.sh
