#!/usr/bin/env bash
# The whole test suite (what .ci/run and `make test` run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
