#!/usr/bin/env bash
# Sets up the machine (see scripts/setup.sh), then runs the main job: the translation
# tutorial on the offline default corpus (Ding German->English, Debian trans-de-en).
# Extra arguments go to tutorials/translate.py (e.g. --budget-minutes 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[main] tutorials/translate.py $*"
exec .venv/bin/python tutorials/translate.py "$@"
