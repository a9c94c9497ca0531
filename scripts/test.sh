#!/usr/bin/env bash
# Sets up the machine (see scripts/setup.sh), then lints and runs the whole test suite,
# slow tests included, on the TensorFlow backend; then the layer, model and sampler
# tests again on the JAX backend (Keras 3 on JAX, CPU). Arguments go to the first
# pytest run; with arguments the JAX run is skipped. The TensorFlow run spreads the
# test files over two worker processes, one per core (pytest-xdist; a file's tests stay
# in one process, so its module fixtures are built once): it took 43 minutes so, where
# it had taken 58 in one process. The JAX run stays in one process: in two, one of its
# sampler tests failed once in three runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] ruff check + ruff format --check"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] pytest (all tests, slow ones included; TensorFlow backend)"
.venv/bin/python -m pytest -n 2 --dist loadfile -ra --durations=25 "$@"
if [ "$#" -eq 0 ]; then
  echo "[test] pytest on the JAX backend (layers, models, samplers)"
  KERAS_BACKEND=jax .venv/bin/python -m pytest -ra --durations=10 \
    tests/layers tests/models tests/samplers
fi
