#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: ClickHouse server (apt) and the project in .venv/.
# Quiet when there is nothing to do; re-installs the project only when pyproject.toml changed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="${LRS_VENV:-.venv}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v clickhouse-server >/dev/null 2>&1; then
  echo "setup: installing clickhouse-server (Debian package)..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    clickhouse-server clickhouse-client >/dev/null
  # The package's post-install tries to start a system service; we run our own server instead.
  $SUDO pkill -f '/etc/clickhouse-server/config.xml' 2>/dev/null || true
fi

PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV..."
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  echo "setup: installing the project and its dependencies into $VENV..."
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e '.[dev,local]'
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
