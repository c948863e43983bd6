#!/usr/bin/env bash
# Fail if any banned crate is in the resolved dependency graph of the
# workspace (all targets, all features). The same bans are in deny.toml for
# people who run cargo-deny; this check needs no extra tool.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='^(openssl|openssl-sys|openssl-src|native-tls|tokio-native-tls|hyper-tls|tss-esapi|tss-esapi-sys)$'
found=$(cargo metadata --format-version 1 --locked --all-features \
  | python3 -c 'import json,sys; print("\n".join(sorted({p["name"] for p in json.load(sys.stdin)["packages"]})))' \
  | grep -E "$banned" || true)
if [ -n "$found" ]; then
  echo "banned crates in the dependency tree:" >&2
  echo "$found" >&2
  for c in $found; do cargo tree --workspace -i "$c" -e normal,build >&2 || true; done
  exit 1
fi
echo "no banned crates (openssl, native-tls, tss-esapi) in the tree"
