#!/usr/bin/env bash
# Mutation testing of the verification cores with cargo-mutants (not part of
# CI: it builds and tests once per mutant, hours for the whole set).
#
#   scripts/mutants.sh [MODULE ...]
#
# MODULE is one of: sgx tdx snp tpm azure_cvm jws pki (default: all of them,
# one after the other). Each runs cargo-mutants on that TEE's verify module
# (for jws: crates/token/src/jws.rs; for pki: crates/evidence/src/pki.rs,
# the certificate checks and chain walker they share) with one job and a per-mutant test timeout,
# testing only the package that holds the file and only the test targets
# that exercise it (the whole evidence suite would cost minutes a mutant).
# cargo-mutants copies the tree to a scratch directory (unless
# MUTANTS_IN_PLACE=1): the working tree is never mutated. Results go to a scratch directory (printed at the
# end; ATTESTA_MUTANTS_DIR overrides it): caught.txt, missed.txt,
# timeout.txt, unviable.txt per module. Exits 1 if any mutant was missed.
#
# Installs cargo-mutants when missing. Environment: MUTANTS_TIMEOUT (seconds
# a mutant's tests may take, default 300), MUTANTS_JOBS (default 1; keep it
# at 1 on a 2-core machine), MUTANTS_IN_PLACE=1 (mutate the working tree
# itself instead of a copy: the copy's first build is a cold one, since
# copying loses the target directory's timestamps, while in place reuses
# the tree's own target/; edit nothing and build nothing in the tree
# meanwhile; cargo-mutants restores each file after its mutant).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install cargo-mutants --locked
fi

timeout=${MUTANTS_TIMEOUT:-300}
jobs=${MUTANTS_JOBS:-1}
work=${ATTESTA_MUTANTS_DIR:-$(mktemp -d -t attesta-mutants.XXXXXX)}
# cargo-mutants builds a copy of the tree under TMPDIR; the tests read the
# vectors at ../shared beside the tree, so the copy gets a ../shared too.
shared=$(cd .. && pwd)/shared
mkdir -p "$work/tmp"
ln -sfn "$shared" "$work/tmp/shared"
export TMPDIR="$work/tmp"

if [ "${MUTANTS_IN_PLACE:-0}" = 1 ]; then
  place=(--in-place)
else
  place=(-j "$jobs")
fi

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  modules=(snp sgx tdx tpm azure_cvm jws pki)
fi

missed_any=0
for m in "${modules[@]}"; do
  case "$m" in
    sgx)
      file=crates/evidence/src/sgx/verify.rs
      tests=(--lib --test=sgx_testkit --test=sgx_vectors) ;;
    tdx)
      file=crates/evidence/src/tdx/verify.rs
      tests=(--lib --test=tdx_testkit --test=tdx_vectors) ;;
    snp)
      file=crates/evidence/src/snp/verify.rs
      tests=(--lib --test=snp_testkit --test=snp_vectors) ;;
    tpm)
      file=crates/evidence/src/tpm/verify.rs
      tests=(--lib --test=tpm_vectors --test=tpm_chain_and_boot --test=tpm_ak_name_and_sha1
             --test=tpm_windows_claims --test=tpm_eventlog_decode) ;;
    azure_cvm)
      file=crates/evidence/src/azure_cvm/verify.rs
      tests=(--lib --test=azure_cvm_testkit --test=azure_cvm_vectors) ;;
    jws)
      file=crates/token/src/jws.rs
      tests=() ;;
    pki)
      file=crates/evidence/src/pki.rs
      tests=(--lib --test=pki --test=tpm_crl --test=tpm_chain_and_boot --test=tpm_vectors
             --test=snp_testkit --test=snp_vectors --test=sgx_testkit --test=sgx_vectors
             --test=tdx_testkit --test=signing_cert --test=azure_cvm_testkit) ;;
    *)
      echo "unknown module '$m' (sgx tdx snp tpm azure_cvm jws pki)" >&2
      exit 2 ;;
  esac
  out="$work/$m"
  mkdir -p "$out"
  echo "== $m: $file (results in $out)"
  # cargo-mutants exits 2 when mutants were missed, 3 on timeouts: read the
  # outcome from its files instead.
  # The targets go to every cargo invocation (-C), so that the build step
  # links only them too: the package's other twenty test binaries would
  # triple the time a mutant takes.
  cargo_args=()
  for t in "${tests[@]}"; do
    cargo_args+=(-C "$t")
  done
  cargo mutants --file "$file" "${place[@]}" --timeout "$timeout" --no-shuffle \
    --output "$out" "${cargo_args[@]}" || true
  o="$out/mutants.out"
  caught=$(wc -l <"$o/caught.txt" 2>/dev/null || echo 0)
  missed=$(wc -l <"$o/missed.txt" 2>/dev/null || echo 0)
  timeouts=$(wc -l <"$o/timeout.txt" 2>/dev/null || echo 0)
  unviable=$(wc -l <"$o/unviable.txt" 2>/dev/null || echo 0)
  viable=$((caught + missed + timeouts))
  echo "== $m: caught $caught (+$timeouts by timeout) of $viable viable; missed $missed; unviable $unviable"
  if [ "$missed" -gt 0 ]; then
    missed_any=1
    cat "$o/missed.txt"
  fi
done
echo "results: $work"
exit $missed_any
