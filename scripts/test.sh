#!/usr/bin/env bash
# The README's test command: install billbridge with its test dependencies into .venv,
# then run the linters, the type checker and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,gnucash]'
echo "== ruff"
.venv/bin/ruff check src tests bench
echo "== mypy (strict, whole package)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
