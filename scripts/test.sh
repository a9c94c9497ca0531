#!/usr/bin/env bash
# Sets up the machine (see scripts/setup.sh), then lints and runs the whole test suite,
# slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] ruff check + ruff format --check"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] pytest (all tests, slow ones included)"
exec .venv/bin/python -m pytest -ra --durations=25 "$@"
