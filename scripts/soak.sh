#!/usr/bin/env bash
# Soak test (not part of CI): a well-behaved client attests at a steady rate
# while attacks run in turn (held connections, a 401 flood, an attest flood,
# a slow tenant policy, draft-policy bombs, malformed requests); prints the client's p50/p99 per phase and the
# server's RSS at start and end. See crates/server/examples/soak.rs.
#
#   scripts/soak.sh [SECONDS_PER_PHASE (default 86: seven phases, 10 min)] [GOOD_RATE per s (default: 80 % of the capacity it measures first)]
set -euo pipefail
cd "$(dirname "$0")/.."
per_phase=${1:-86}
rate=${2:-auto}
# Enough descriptors for the held-connections phase.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
cargo build --release --quiet -p attesta-server --example soak
bin=target/release/examples/soak
# On one machine the clients (the good one and the attackers) would take
# their CPU from the server: give the server the upper half of the CPUs and
# the clients the lower half (ATTESTA_SOAK_PIN=0 to share them all).
cpus=$(nproc)
if [ "${ATTESTA_SOAK_PIN:-1}" = 1 ] && [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
  half=$((cpus / 2))
  export ATTESTA_SOAK_SERVER_CPUS="$half-$((cpus - 1))"
  echo "server on CPUs $ATTESTA_SOAK_SERVER_CPUS, clients on 0-$((half - 1))"
  exec taskset -c "0-$((half - 1))" "$bin" "$per_phase" "$rate"
fi
exec "$bin" "$per_phase" "$rate"
