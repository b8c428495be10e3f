#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, only when it is missing:
# MariaDB, the real MySQL-protocol server the GC-lifetime tests start on loopback,
# kubernetes-validate for the manifests, and the control plane of the end-to-end tests
# (etcd, kube-apiserver, kube-controller-manager and kubectl, built with Go).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

if ! { (have mariadbd || have mysqld) && (have mariadb-install-db || have mysql_install_db); }; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "test-deps: install mariadb-server (mariadbd and mariadb-install-db) with your package manager" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "test-deps: installing mariadb-server" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
fi

# kubernetes-validate: the manifests tests check rendered objects against Kubernetes'
# own JSON schemas offline (tests/e2e applies the CRDs, RBAC and webhook configurations
# to a real apiserver).
if ! python3 -c 'import kubernetes_validate' >/dev/null 2>&1; then
    echo "test-deps: installing kubernetes-validate" >&2
    python3 -m pip install -q --disable-pip-version-check kubernetes-validate==1.37.0
fi

# The end-to-end tests' control plane, built from the Go modules in tools/control-plane
# into .tools/bin/; a no-op when they were built from the same go.sum.
"$(dirname "$0")/../tools/control-plane/build.sh"
