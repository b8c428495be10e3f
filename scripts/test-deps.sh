#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, only when it is missing:
# MariaDB, the real MySQL-protocol server the GC-lifetime tests start on loopback.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

if (have mariadbd || have mysqld) && (have mariadb-install-db || have mysql_install_db); then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: install mariadb-server (mariadbd and mariadb-install-db) with your package manager" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "test-deps: installing mariadb-server" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
