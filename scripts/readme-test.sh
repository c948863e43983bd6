#!/usr/bin/env bash
# Runs README.md's shell blocks, in order, as a newcomer would: in a fresh
# temporary directory holding only the repository's examples/, with the
# `attesta` the suite built on PATH and `attesta serve` started there as the
# quick start says (default address 127.0.0.1:8443, data in ./attesta-data).
#
# Every ```sh block runs, under `bash -euo pipefail`, unless the line before
# it is an HTML comment starting `<!-- readme-test: skip` (say why in the
# rest of the comment): install steps, the test suite itself, the
# long-running `attesta serve`, and commands that need another setup. A
# block that fails stops the script with its number, text and output.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

cargo build --quiet --locked -p attesta-cli --manifest-path "$repo/Cargo.toml"
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

work=$(mktemp -d)
mkdir "$work/bin"
ln -s "$target/debug/attesta" "$work/bin/attesta"
cp -r "$repo/examples" "$work/examples"
export PATH="$work/bin:$PATH"
unset ATTESTA_URL ATTESTA_CA ATTESTA_DATA_DIR ATTESTA_ADMIN_TOKEN ATTESTA_TOKEN ATTESTA_CONFIG

# The blocks, split into files: NNN.sh (runs) or NNN.skip.
python3 - "$repo/README.md" "$work/blocks" <<'PY'
import os, re, sys
text = open(sys.argv[1], encoding="utf-8").read().splitlines()
out = sys.argv[2]
os.makedirs(out)
n, i, prev = 0, 0, ""
while i < len(text):
    line = text[i]
    if line.strip() == "```sh":
        body = []
        i += 1
        while i < len(text) and text[i].strip() != "```":
            body.append(text[i])
            i += 1
        n += 1
        kind = "skip" if re.match(r"\s*<!--\s*readme-test:\s*skip", prev) else "sh"
        with open(os.path.join(out, f"{n:03d}.{kind}"), "w") as f:
            f.write("\n".join(body) + "\n")
    if line.strip():
        prev = line
    i += 1
print(f"readme-test: {n} shell blocks")
PY

if (exec 3<>/dev/tcp/127.0.0.1/8443) 2>/dev/null; then
  echo "readme-test: something already listens on 127.0.0.1:8443, the README's default address; stop it first" >&2
  exit 1
fi
cd "$work"
attesta serve 2> "$work/serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  if [ -f attesta-data/admin-token ] && (exec 3<>/dev/tcp/127.0.0.1/8443) 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/serve.log"; echo "readme-test: attesta serve exited" >&2; exit 1; fi
  sleep 0.1
done

ran=0 skipped=0
for block in "$work"/blocks/*; do
  name=$(basename "$block")
  if [ "${name##*.}" = skip ]; then
    skipped=$((skipped + 1))
    continue
  fi
  if ! bash -euo pipefail "$block" > "$work/out.txt" 2>&1; then
    echo "readme-test: README block ${name%.sh} failed:" >&2
    sed 's/^/    $ /' "$block" >&2
    sed 's/^/    /' "$work/out.txt" | tail -30 >&2
    exit 1
  fi
  ran=$((ran + 1))
  echo "ok block ${name%.sh}: $(head -1 "$block")"
done
echo "readme-test: $ran blocks ran, $skipped skipped by their <!-- readme-test: skip --> comment"
