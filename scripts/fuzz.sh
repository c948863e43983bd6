#!/usr/bin/env bash
# Run every fuzz target under fuzz/ for a while (not part of CI).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET ...]
#
# Uses the nightly toolchain and cargo-fuzz (installed when missing). Each
# target starts from seeds: synthetic evidence from the testkit (`attesta
# sample`) and the real vectors in ../shared/vectors. Corpora and crash
# artifacts go to a scratch directory (printed at the end), never into the
# repository. Prints executions and crashes per target; exits 1 if any
# target crashed.
#
# ATTESTA_FUZZ_DIR=DIR keeps corpora between runs (they grow over time).
# ATTESTA_FUZZ_SANITIZER: `none` (default) or `address`. Attesta's crates
# forbid unsafe code, so AddressSanitizer mostly guards dependencies and
# costs about half the executions; the default build keeps debug
# assertions (overflow checks) on instead, so that an arithmetic overflow
# on untrusted input is a crash, as it is in the test profile. Run with
# `address` now and then.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
sanitizer=${ATTESTA_FUZZ_SANITIZER:-none}
flags=(--release --sanitizer "$sanitizer" --debug-assertions)

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"/\1/p' fuzz/Cargo.toml | grep -v '^attesta-fuzz$')
fi

work=${ATTESTA_FUZZ_DIR:-$(mktemp -d -t attesta-fuzz.XXXXXX)}
vectors=../shared/vectors
samples="$work/samples"
mkdir -p "$samples"

# Synthetic evidence from the testkit, through the CLI.
echo "==> testkit samples"
for kind in sgx openenclave tdx snp; do
  cargo run --quiet -p attesta-cli -- sample "$kind" --out "$samples/$kind" >/dev/null 2>&1 ||
    echo "   (attesta sample $kind failed; continuing with the vectors)"
done

# seed_globs TARGET: find(1) arguments selecting the seed files for a target.
seed_dirs() {
  case "$1" in
    sgx_quote) echo "$samples/sgx $vectors/sgx $vectors/maa-sdk" ;;
    oe_report) echo "$samples/openenclave $vectors/openenclave $vectors/maa-sdk" ;;
    tdx_quote) echo "$samples/tdx $vectors/tdx" ;;
    snp_report) echo "$samples/snp $vectors/snp" ;;
    hcl_report) echo "$vectors/azure-cvm" ;;
    tpm_eventlog|tpm_structures) echo "$vectors/tpm $vectors/azure-cvm" ;;
    tpm_protocol) echo "$vectors/maa-sdk $vectors/tpm" ;;
    policy_parse|policy_deep) echo "$vectors/maa-policies $vectors/maa-sdk/policies crates/policy/examples crates/policy/src/defaults" ;;
    jws_parse) echo "$vectors/maa-tokens $vectors/maa-sdk" ;;
    collateral_bundle) echo "$samples $vectors/sgx $vectors/tdx" ;;
    signing_cert) echo "$vectors/maa-tokens" ;;
    *) echo "$samples $vectors" ;;
  esac
}

echo "==> building fuzz targets (nightly)"
cargo +nightly fuzz build "${flags[@]}" >/dev/null

summary=()
crashed=0
for t in "${targets[@]}"; do
  seeds="$work/seeds/$t"; corpus="$work/corpus/$t"; artifacts="$work/artifacts/$t/"
  mkdir -p "$seeds" "$corpus" "$artifacts"
  for d in $(seed_dirs "$t"); do
    [ -e "$d" ] || continue
    find "$d" -type f -size -1048576c ! -name '*.md' -print0 2>/dev/null |
      while IFS= read -r -d '' f; do cp "$f" "$seeds/$(echo "$f" | sha256sum | cut -c1-16)"; done
  done
  nseeds=$(find "$seeds" -type f | wc -l)
  echo "==> $t: $secs s from $nseeds seeds"
  log="$work/$t.log"
  set +e
  cargo +nightly fuzz run "${flags[@]}" "$t" "$corpus" "$seeds" -- \
    -max_total_time="$secs" -timeout=30 -print_final_stats=1 -artifact_prefix="$artifacts" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes="?(exit $rc, see $log)"; fi
  [ "$crashes" != "0" ] && crashed=1
  summary+=("$(printf '%-20s execs %-12s crashes %s' "$t" "${execs:-?}" "$crashes")")
done

echo
echo "==> summary ($secs s per target, sanitizer $sanitizer; corpora, logs and artifacts in $work)"
printf '%s\n' "${summary[@]}"
exit "$crashed"
