#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine: restic, xxhsum and ssh-keygen (apt), the package
# in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PY="${PYTHON:-python3}"

need_apt=()
command -v restic >/dev/null 2>&1 || need_apt+=(restic)
command -v xxhsum >/dev/null 2>&1 || need_apt+=(xxhash)
# ssh-keygen: the tests check signed audit packs with the stock OpenSSH tool
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
if [ ! -x .venv/bin/python ] && ! "$PY" -c "import ensurepip, venv" >/dev/null 2>&1; then
    need_apt+=(python3-venv)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} with apt-get" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# reinstall only when the dependency list changed
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${EXTRAS:-dev}"
if [ ! -f "$stamp" ]; then
    echo "setup: installing backupcheck[${EXTRAS:-dev}] into .venv" >&2
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[${EXTRAS:-dev}]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
