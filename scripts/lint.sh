#!/bin/sh
# The static checks CI runs before the tests (configured in pyproject.toml): ruff's lint rules,
# ruff's formatter in check mode, and mypy (strict) on the core.
set -e
cd "$(dirname "$0")/.."
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy
