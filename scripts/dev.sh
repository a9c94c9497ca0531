#!/usr/bin/env bash
# The developer loop, meant to finish in under 2 minutes: ruff on the Python files
# changed since the last commit, then the fast tests (not marked `large`) of the
# given test paths, stopping at the first failure. Without paths it runs the tests
# that mirror the changed files (keras_transformer_bit/layers/x.py ->
# tests/layers/test_x.py, and changed test files themselves).
# The whole suite, slow tests included, is scripts/test.sh.
#
#   bash scripts/dev.sh                                  # what you changed
#   bash scripts/dev.sh tests/layers                     # one area
#   bash scripts/dev.sh tests/layers/test_position_embedding.py -k saving
set -euo pipefail
cd "$(dirname "$0")/.."

changed=$(
    {
        git diff --name-only --diff-filter=d HEAD -- '*.py'
        git ls-files --others --exclude-standard -- '*.py'
    } | sort -u
)
if [ -n "$changed" ]; then
    echo "[dev] ruff on $(echo "$changed" | wc -l) changed file(s)"
    # shellcheck disable=SC2086
    .venv/bin/ruff check $changed
    # shellcheck disable=SC2086
    .venv/bin/ruff format --check $changed
fi

if [ $# -eq 0 ]; then
    tests=()
    for file in $changed; do
        case "$file" in
        tests/*/test_*.py | tests/test_*.py) tests+=("$file") ;;
        keras_transformer_bit/*)
            relative=${file#keras_transformer_bit/}
            directory=$(dirname "$relative")
            mirror="tests/$directory/test_$(basename "$relative")"
            [ "$directory" = . ] && mirror="tests/test_$(basename "$relative")"
            [ -f "$mirror" ] && tests+=("$mirror")
            ;;
        esac
    done
    if [ ${#tests[@]} -eq 0 ]; then
        echo "[dev] no changed file has a test file; give test paths" >&2
        exit 0
    fi
    set -- $(printf '%s\n' "${tests[@]}" | sort -u)
fi
echo "[dev] pytest -m 'not large' $*"
exec .venv/bin/python -m pytest -m "not large" -x -q -p no:cacheprovider "$@"
