#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: Debian's ClickHouse server (apt, only if missing), the
# project with its dev and report extras in .venv/ (LRS_VENV) at the versions of requirements.lock, re-installed
# only when pyproject.toml or the lock changed, and the pinned Apache Kafka broker from Maven Central
# (deploy/kafka-broker/pom.xml) in .venv/share/kafka-broker/lib, fetched again only when that pom changed
# (Maven's ~/.m2 cache keeps the jars across fresh venvs too).
# Silent when everything works; on a failure it prints the failing step's output and exits non-zero.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${LRS_VENV:-.venv}"
PY="${PYTHON:-python3}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Run a step with its output captured; show it only if the step fails.
quiet() {
  local out
  out="$(mktemp)"
  if ! "$@" >"$out" 2>&1; then
    echo "setup: failed: $*" >&2
    cat "$out" >&2
    rm -f "$out"
    exit 1
  fi
  rm -f "$out"
}

have_clickhouse() {
  # /usr/sbin is not on a normal user's PATH on Debian, where the package puts clickhouse-server.
  command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || [ -x /usr/bin/clickhouse-server ]
}

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { quiet $SUDO apt-get update; apt_updated=1; }
  quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

if ! have_clickhouse; then
  apt_install clickhouse-server clickhouse-client
  # The package may start a system service (on machines with systemd); `lrs stack up` runs its own server
  # with its own config and ports, so keep the system one from using memory and ports 9000/8123.
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now clickhouse-server >/dev/null 2>&1 || true
  fi
  have_clickhouse || { echo "setup: clickhouse-server is still missing after apt-get install" >&2; exit 1; }
fi

# ZooKeeper for the replicated ClickHouse of `lrs stack up --cluster` (Debian's package; the stack runs its own
# server with its own config, never the system service).
if [ ! -f /usr/share/java/zookeeper.jar ]; then
  apt_install zookeeper
  [ -f /usr/share/java/zookeeper.jar ] || { echo "setup: zookeeper is still missing after apt-get install" >&2; exit 1; }
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now zookeeper >/dev/null 2>&1 || true
  fi
fi

# Headless Chromium: the report test renders `lrs report` pages with it (tests/integration/test_report.py).
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
  command -v chromium >/dev/null 2>&1 || { echo "setup: chromium is still missing after apt-get install" >&2; exit 1; }
fi

if [ ! -x "$VENV/bin/python" ]; then
  # Debian's python3 can only create virtual environments with the python3-venv package.
  if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  quiet "$PY" -m venv "$VENV"
fi

# The versions come from requirements.lock (every dependency and extra pinned; docs/deployment.md says how to
# update it): installed again when pyproject.toml or the lock changed.
STAMP="$VENV/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check -q -c requirements.lock -e '.[dev,report]'
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi

# Apache Kafka (KRaft) for `lrs stack up`: Java 17+ runs it; Maven resolves the broker and its run-time
# dependencies from Maven Central. Nothing is built.
command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] || apt_install openjdk-17-jre-headless
command -v mvn >/dev/null 2>&1 || apt_install maven
KAFKA_POM="deploy/kafka-broker/pom.xml"
KAFKA_LIB="$VENV/share/kafka-broker/lib"
KAFKA_STAMP="$KAFKA_LIB/.pom-$(sha256sum "$KAFKA_POM" | cut -c1-16)"
if [ ! -f "$KAFKA_STAMP" ]; then
  rm -rf "$KAFKA_LIB"
  case "$KAFKA_LIB" in /*) KAFKA_OUT="$KAFKA_LIB" ;; *) KAFKA_OUT="$PWD/$KAFKA_LIB" ;; esac  # LRS_VENV may be absolute
  quiet mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_OUT"
  touch "$KAFKA_STAMP"
fi

# Browser clients for tests/integration/test_browser_clients.py: TinCanJS, @xapi/xapi and playwright-core
# (it drives the system's Chromium; no browser download) from npm, at the versions pinned in the lock file.
# Installed again only when that lock file changed.
BROWSER_DIR="tests/browser"
BROWSER_STAMP="$BROWSER_DIR/node_modules/.lock-$(sha256sum "$BROWSER_DIR/package-lock.json" | cut -c1-16)"
if [ ! -f "$BROWSER_STAMP" ]; then
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  quiet env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$BROWSER_DIR" --no-audit --no-fund
  touch "$BROWSER_STAMP"
fi
