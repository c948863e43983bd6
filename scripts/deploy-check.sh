#!/usr/bin/env bash
# Checks the deployment files under deploy/ without a cluster or a container
# daemon: the Helm chart (`helm lint` when helm is installed; always: Chart.yaml
# and values.yaml parse, every .Values path the templates use exists, the
# rendered attesta.toml parses as TOML), the systemd unit (`systemd-analyze
# verify` and its offline security exposure, when systemd-analyze exists), and
# the Containerfile (multi-stage, distroless final stage, non-root user).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
chart="$repo/deploy/helm/attesta"

if command -v helm > /dev/null; then
  helm lint --strict "$chart"
else
  echo "deploy-check: helm is not installed; checking the chart's YAML and value paths"
fi
py=python3
if ! python3 -c 'import yaml' 2> /dev/null; then
  # PyYAML in a venv of its own when the system Python lacks it.
  venv="$repo/target/deploy-check/venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'PyYAML==6.0.3'
  py="$venv/bin/python"
fi
"$py" - "$chart" <<'PY'
import pathlib, re, sys, tomllib
import yaml
chart = pathlib.Path(sys.argv[1])
meta = yaml.safe_load((chart / "Chart.yaml").read_text())
assert meta["apiVersion"] == "v2" and meta["name"] == "attesta" and meta["version"], meta
values = yaml.safe_load((chart / "values.yaml").read_text())
missing = []
for t in sorted((chart / "templates").iterdir()):
    for path in re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", t.read_text()):
        node = values
        for part in path.strip(".").split("."):
            if not isinstance(node, dict) or part not in node:
                missing.append(f"{t.name}: .Values{path}")
                break
            node = node[part]
assert not missing, "undefined values: " + ", ".join(missing)
# The ConfigMap renders each config entry as `key = <JSON>`: valid TOML?
toml = "\n".join(f"{k} = {__import__('json').dumps(v)}" for k, v in values["config"].items())
tomllib.loads(toml)
print(f"deploy-check: chart {meta['name']} {meta['version']} ok")
PY

if command -v systemd-analyze > /dev/null; then
  unit=$(mktemp -d)/attesta.service
  # verify wants the ExecStart binary to exist: point it at one that does.
  sed "s#/usr/local/bin/attesta#$(command -v true)#" "$repo/deploy/attesta.service" > "$unit"
  systemd-analyze verify --man=no "$unit"
  exposure=$(systemd-analyze --offline=true security "$unit" 2>/dev/null \
    | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "deploy-check: systemd unit exposure $exposure"
  python3 -c "import sys; sys.exit(0 if float('$exposure') <= 2.0 else 1)" \
    || { echo "deploy-check: the unit's exposure $exposure is above 2.0"; exit 1; }
fi

cf="$repo/deploy/Containerfile"
grep -q '^FROM .* AS build$' "$cf"
tail_from=$(grep '^FROM ' "$cf" | tail -1)
case "$tail_from" in *distroless*nonroot*) ;; *) echo "deploy-check: final stage is not distroless nonroot: $tail_from"; exit 1 ;; esac
grep -q '^USER 65532:65532$' "$cf"
echo "deploy-check: Containerfile ok"
