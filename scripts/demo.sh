#!/usr/bin/env bash
# Set everything up, then run the demo drill on the embedded estate (exit code 1: it plants
# one problem per client on purpose). Extra arguments go to `backupcheck demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/backupcheck demo "$@"
