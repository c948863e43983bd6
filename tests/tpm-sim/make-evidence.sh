#!/usr/bin/env bash
# make-evidence.sh — genuine TPM 2.0 evidence from a private swtpm instance, for the TPM verifier's tests.
#
# Usage: make-evidence.sh [--secure-boot on|off] [--banks sha1,sha256] [--no-ecc] [--certify-key PEM]
#                         OUT_DIR [NONCE_HEX]
#
# Starts swtpm on 127.0.0.1 (free ports, state in a temp dir, PCR banks activated with swtpm_setup),
# creates an EK and AKs (RSA-2048 RSASSA/SHA-256 and ECC P-256 ECDSA/SHA-256) with tpm2-tools, issues
# AK certificates from a throwaway test CA, extends PCRs 0-7 with a scripted boot whose crypto-agile TCG
# event log it writes beside them, quotes PCRs 0-7 of every bank over the nonce, writes manifest.json,
# and finally re-verifies everything from the files (tpmsim.py check). With --certify-key, the RSA
# private key in PEM is loaded into the TPM (null hierarchy) and certified by the RSA AK with
# TPM2_Certify over the same nonce (certify.attest, certify.sig, certify_key.tpmt). Exits non-zero if any step or
# check fails. Installs swtpm, swtpm-tools and tpm2-tools (Debian packages) and Python's cryptography
# when missing. See README.md in this directory for the files and their formats.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEFAULT_NONCE="0123456789abcdeffedcba9876543210"
SECURE_BOOT=on
BANKS=sha1,sha256
ECC=1
CERTIFY_KEY=""

usage() {
  echo "usage: $0 [--secure-boot on|off] [--banks sha1,sha256[,sha384,sha512]] [--no-ecc] OUT_DIR [NONCE_HEX]" >&2
  exit 2
}

POS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --secure-boot) [ $# -ge 2 ] || usage; SECURE_BOOT="$2"; shift 2 ;;
    --secure-boot=*) SECURE_BOOT="${1#*=}"; shift ;;
    --banks) [ $# -ge 2 ] || usage; BANKS="$2"; shift 2 ;;
    --banks=*) BANKS="${1#*=}"; shift ;;
    --no-ecc) ECC=0; shift ;;
    --certify-key) [ $# -ge 2 ] || usage; CERTIFY_KEY="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) POS+=("$1"); shift ;;
  esac
done
[ ${#POS[@]} -ge 1 ] && [ ${#POS[@]} -le 2 ] || usage
OUT="${POS[0]}"
NONCE="$DEFAULT_NONCE"
# An explicit empty NONCE_HEX ("") quotes with empty qualifyingData, as some real clients do.
[ ${#POS[@]} -eq 2 ] && NONCE="$(printf '%s' "${POS[1]}" | tr 'A-F' 'a-f')"
case "$SECURE_BOOT" in on|off) ;; *) echo "--secure-boot must be on or off" >&2; exit 2 ;; esac
if ! [[ "$BANKS" =~ ^(sha1|sha256|sha384|sha512)(,(sha1|sha256|sha384|sha512))*$ ]]; then
  echo "--banks must be a comma list of sha1, sha256, sha384, sha512" >&2; exit 2
fi
# TPM2B_DATA holds at most 64 bytes; the TPM refuses a qualifyingData longer than its largest digest.
if ! [[ "$NONCE" =~ ^([0-9a-f]{2}){0,64}$ ]]; then
  echo "NONCE_HEX must be 0 to 64 bytes of hex (got '$NONCE')" >&2; exit 2
fi

log() { echo "tpm-sim: $*" >&2; }

# --- 1. packages -------------------------------------------------------------------------------
need_pkgs=()
command -v swtpm >/dev/null 2>&1 || need_pkgs+=(swtpm)
command -v swtpm_setup >/dev/null 2>&1 || need_pkgs+=(swtpm-tools)
command -v tpm2_quote >/dev/null 2>&1 || need_pkgs+=(tpm2-tools)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  if [ "$(id -u)" != 0 ]; then echo "need root to install ${need_pkgs[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# A Python with the cryptography package: the one on PATH, Debian's, or a private venv.
PY=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import cryptography.x509' >/dev/null 2>&1; then
    PY="$(command -v "$cand")"; break
  fi
done
if [ -z "$PY" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing python3-cryptography"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-cryptography >/dev/null \
    && /usr/bin/python3 -c 'import cryptography.x509' >/dev/null 2>&1 && PY=/usr/bin/python3 || true
fi
if [ -z "$PY" ]; then
  VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/attesta-tpm-sim/venv"
  if ! "$VENV/bin/python" -c 'import cryptography.x509' >/dev/null 2>&1; then
    log "creating $VENV with cryptography"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q cryptography
  fi
  PY="$VENV/bin/python"
fi
SIM=("$PY" "$HERE/tpmsim.py")

# --- 2. a private swtpm ------------------------------------------------------------------------
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
if [ -n "$(ls -A "$OUT")" ]; then echo "OUT_DIR $OUT is not empty" >&2; exit 2; fi
STATE="$(mktemp -d "${TMPDIR:-/tmp}/tpm-sim.XXXXXX")"
SWTPM_PID=""
cleanup() {
  local rc=$?
  if [ -n "$SWTPM_PID" ] && kill -0 "$SWTPM_PID" 2>/dev/null; then
    kill "$SWTPM_PID" 2>/dev/null || true
    wait "$SWTPM_PID" 2>/dev/null || true
  fi
  if [ $rc -ne 0 ] && [ -s "$STATE/swtpm.log" ]; then
    echo "tpm-sim: swtpm log:" >&2; tail -n 20 "$STATE/swtpm.log" >&2
  fi
  rm -rf "$STATE"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# swtpm_setup writes a fresh TPM state with exactly the requested PCR banks active (a freshly
# manufactured libtpms state has sha1, sha256, sha384 and sha512 all active).
swtpm_setup --tpm2 --tpmstate "$STATE" --pcr-banks "$BANKS" --overwrite >"$STATE/setup.log" 2>&1 \
  || { cat "$STATE/setup.log" >&2; exit 1; }

start_swtpm() {
  local ports
  ports="$("${SIM[@]}" ports)"
  PORT="${ports% *}"; CTRL="${ports#* }"
  swtpm socket --tpm2 \
    --server "type=tcp,port=$PORT,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$CTRL,bindaddr=127.0.0.1" \
    --tpmstate "dir=$STATE" --flags not-need-init,startup-clear \
    --log "file=$STATE/swtpm.log,level=1" &
  SWTPM_PID=$!
  export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"
  for _ in $(seq 1 50); do
    if ! kill -0 "$SWTPM_PID" 2>/dev/null; then wait "$SWTPM_PID" 2>/dev/null || true; SWTPM_PID=""; return 1; fi
    if tpm2_getcap properties-fixed >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  kill "$SWTPM_PID" 2>/dev/null || true; wait "$SWTPM_PID" 2>/dev/null || true; SWTPM_PID=""
  return 1
}
started=0
for _ in 1 2 3; do  # a port picked free can be taken before swtpm binds it; pick again
  if start_swtpm; then started=1; break; fi
done
[ $started = 1 ] || { echo "swtpm did not start" >&2; exit 1; }
log "swtpm pid $SWTPM_PID on 127.0.0.1:$PORT (ctrl $CTRL), banks $BANKS"

active="$(tpm2_getcap pcrs | sed -n 's/^ *- \([a-z0-9]*\): \[ 0, 1, 2, 3, 4, 5, 6, 7,.*/\1/p' | paste -sd, -)"
[ "$active" = "$BANKS" ] || { echo "swtpm has PCR banks '$active', wanted '$BANKS'" >&2; exit 1; }

# Without a resource manager, objects the tools load stay in the TPM's three transient slots; flush
# after each step.
flush() { tpm2_flushcontext -t >/dev/null; tpm2_flushcontext -s >/dev/null; }

# --- 3. EK and AKs -----------------------------------------------------------------------------
W="$STATE/work"; mkdir -p "$W"
tpm2_createek -c "$W/ek.ctx" -G rsa -u "$OUT/ek.pub" -f tss >/dev/null; flush
tpm2_readpublic -c "$W/ek.ctx" -f pem -o "$OUT/ek.pem" >/dev/null; flush
tpm2_createak -C "$W/ek.ctx" -c "$W/ak.ctx" -G rsa -g sha256 -s rsassa \
  -u "$OUT/ak.tpmt" -f tpmt -n "$OUT/ak.name" -q "$OUT/ak.qname" >/dev/null; flush
tpm2_readpublic -c "$W/ak.ctx" -f pem -o "$OUT/ak.pem" >/dev/null; flush
if [ $ECC = 1 ]; then
  tpm2_createak -C "$W/ek.ctx" -c "$W/ak_ecc.ctx" -G ecc -g sha256 -s ecdsa \
    -u "$OUT/ak_ecc.tpmt" -f tpmt -n "$OUT/ak_ecc.name" -q "$OUT/ak_ecc.qname" >/dev/null; flush
  tpm2_readpublic -c "$W/ak_ecc.ctx" -f pem -o "$OUT/ak_ecc.pem" >/dev/null; flush
fi

# --- 4. test CA and AK certificates ------------------------------------------------------------
cert_args=(--out-dir "$OUT" --ak-pem "$OUT/ak.pem")
[ $ECC = 1 ] && cert_args+=(--ak-ecc-pem "$OUT/ak_ecc.pem")
"${SIM[@]}" certs "${cert_args[@]}"

# --- 5. scripted boot: event log + the same digests into the PCRs ------------------------------
"${SIM[@]}" eventlog --banks "$BANKS" --secure-boot "$SECURE_BOOT" \
  --out "$OUT/eventlog.bin" --extends "$OUT/extends.txt" --events "$OUT/events.json"
mapfile -t extends <"$OUT/extends.txt"
# One call, events in log order: tpm2_pcrextend applies its arguments in the order given.
tpm2_pcrextend "${extends[@]}"

# --- 6. PCR values and quotes ------------------------------------------------------------------
QUAL=()
[ -n "$NONCE" ] && QUAL=(-q "$NONCE")
SEL="$(echo "$BANKS" | sed 's/\([a-z0-9]*\)/\1:0,1,2,3,4,5,6,7/g; s/,\([a-z]\)/+\1/g')"
tpm2_pcrread "$SEL" >"$W/pcrread.yaml"
"${SIM[@]}" pcrs --banks "$BANKS" --yaml "$W/pcrread.yaml" --out "$OUT/pcrs.json"
tpm2_quote -c "$W/ak.ctx" -l "$SEL" "${QUAL[@]}" -g sha256 \
  -m "$OUT/quote.msg" -s "$OUT/quote.sig" -f tss -o "$OUT/quote.pcrs" -F values >/dev/null; flush
if [ $ECC = 1 ]; then
  tpm2_quote -c "$W/ak_ecc.ctx" -l "$SEL" "${QUAL[@]}" -g sha256 \
    -m "$OUT/quote_ecc.msg" -s "$OUT/quote_ecc.sig" -f tss -o "$OUT/quote_ecc.pcrs" -F values >/dev/null; flush
fi

# --- 6b. TPM2_Certify of an external key by the AK ----------------------------------------------
if [ -n "$CERTIFY_KEY" ]; then
  flush
  tpm2_loadexternal -C n -G rsa -r "$CERTIFY_KEY" -c "$W/ck.ctx" >/dev/null; flush
  tpm2_readpublic -c "$W/ck.ctx" -f tss -o "$W/ck.pub" >/dev/null; flush
  tpm2_evictcontrol -C o -c "$W/ak.ctx" 0x81010002 >/dev/null; flush
  tpm2_readpublic -c "$W/ck.ctx" >/dev/null   # leaves the key loaded in a transient slot
  ck_handle="$(tpm2_getcap handles-transient | sed -n 's/^- \(0x[0-9a-fA-F]*\).*/\1/p' | head -n1)"
  [ -n "$ck_handle" ] || { echo "the certified key is not loaded" >&2; exit 1; }
  "${SIM[@]}" certify-cmd --object "$ck_handle" --sign 0x81010002 --nonce "$NONCE" --out "$W/certify.cmd"
  tpm2_send -o "$W/certify.rsp" <"$W/certify.cmd"
  "${SIM[@]}" certify-rsp --rsp "$W/certify.rsp" --nonce "$NONCE" --attest "$OUT/certify.attest" \
    --sig "$OUT/certify.sig" --public-in "$W/ck.pub" --public-out "$OUT/certify_key.tpmt"
  flush
  tpm2_evictcontrol -C o -c 0x81010002 >/dev/null
fi

# --- 7. manifest -------------------------------------------------------------------------------
tpm_info="$(tpm2_getcap properties-fixed | awk '
  /TPM2_PT_MANUFACTURER:/ {m=1} m && /value:/ {gsub(/"/,"",$2); man=$2; m=0}
  /TPM2_PT_FIRMWARE_VERSION_1:/ {f=1} f && /raw:/ {fw=$2; f=0}
  END {printf "swtpm (libtpms), manufacturer %s, firmware %s", man, fw}')"
tools="swtpm $(swtpm --version | sed -n '1s/.*version \([0-9.]*\).*/\1/p'), tpm2-tools $(tpm2_quote --version | sed -n 's/.*version="\([^"]*\)".*/\1/p')"
manifest_args=(--out-dir "$OUT" --banks "$BANKS" --nonce "$NONCE" --secure-boot "$SECURE_BOOT"
  --tpm-info "$tpm_info" --tools "$tools")
[ $ECC = 1 ] && manifest_args+=(--ecc)
"${SIM[@]}" manifest "${manifest_args[@]}"

# --- 8. self-check from the files alone --------------------------------------------------------
"${SIM[@]}" check "$OUT"
log "evidence in $OUT (secure boot $SECURE_BOOT, nonce '$NONCE')"
