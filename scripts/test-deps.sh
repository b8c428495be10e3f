#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, only when it is missing:
# MariaDB, the real MySQL-protocol server the GC-lifetime tests start on loopback,
# kubernetes-validate for the manifests, and the Go tools, every one built by
# build_go_tool from its module under tools/ into .tools/bin: helm, promtool, and the
# control plane of the end-to-end tests (etcd, kube-apiserver, kube-controller-manager
# and kubectl).
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

# --- Go tools, each built from a small module of its own under tools/ ---------------
root=$(cd "$(dirname "$0")/.." && pwd)
tools_bin="$root/.tools/bin"
# The same for every tool, so that the packages they share are compiled once.
go_build_flags=(-buildvcs=false -trimpath -gcflags=all=-dwarf=false)

if ! command -v go >/dev/null 2>&1; then
    echo "test-deps: the Go toolchain (go) is needed to build helm, promtool and the end-to-end tests' control plane from tools/" >&2
    exit 1
fi

# The version a module's go.mod requires of a dependency (read from the file: no network).
go_mod_version() {
    awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { v = ($1 == m) ? $2 : $3 } END { print v }' "$root/$1/go.mod"
}

# The name `go build -o DIR/` gives the binary of a package: its last path element, or
# the one before a major-version suffix (go.etcd.io/etcd/server/v3 -> server).
go_binary_name() {
    local path=$1
    if [[ ${path##*/} =~ ^v[0-9]+$ ]]; then path=${path%/*}; fi
    echo "${path##*/}"
}

# build_go_tool <module-dir> <binary>[=<package>]...
# The one way Go tools are built here. Builds each binary from the `tool` line of
# <module-dir>/go.mod whose package ends in /<binary> (or is <package>), all in one
# `go build` (packages they share are compiled once), into .tools/bin: static (CGO off),
# -trimpath, without DWARF or symbol tables (shorter compiles and links on a 2-core
# machine). GO_TOOL_TAGS and GO_TOOL_LDFLAGS (e.g. the version -X flags) are passed on.
# Every tool is compiled with go_build_flags, so the packages different tools share
# (Kubernetes' client libraries) are compiled once into the Go build cache. Skipped when
# every binary exists and a stamp (.tools/stamps/) shows it was built from the same
# go.mod, go.sum, binaries, flags and Go version.
build_go_tool() {
    local dir=$1
    shift
    local module="$root/$dir"
    local stamp="$root/.tools/stamps/${dir//\//_}"
    local key
    key=$({
        cat "$module/go.mod" "$module/go.sum"
        printf '%s\n' "$*" "${go_build_flags[*]}" "${GO_TOOL_TAGS:-}" "${GO_TOOL_LDFLAGS:-}" "$(go env GOVERSION)"
    } | sha256sum | cut -d' ' -f1)
    local names=() packages=() spec name package built=1
    for spec in "$@"; do
        name=${spec%%=*}
        names+=("$name")
        [ -x "$tools_bin/$name" ] || built=0
    done
    if [ "$built" = 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
        return 0
    fi
    for spec in "$@"; do
        name=${spec%%=*}
        package=$(awk -v b="$name" -v p="${spec#*=}" -v explicit="$([ "$spec" != "$name" ] && echo 1)" '
            /^tool \(/ { block = 1; next }
            block && /^\)/ { block = 0; next }
            { t = block ? $1 : ($1 == "tool" ? $2 : "") }
            t != "" && ((explicit && t == p) || (!explicit && t ~ ("/" b "$"))) { print t }' "$module/go.mod")
        if [ -z "$package" ]; then
            echo "test-deps: $dir/go.mod has no tool line for $spec (go get -tool PACKAGE@VERSION)" >&2
            exit 1
        fi
        packages+=("$package")
    done
    echo "test-deps: building ${names[*]} from $dir (once per go.mod/go.sum change; minutes when cold)" >&2
    mkdir -p "$tools_bin" "$(dirname "$stamp")"
    rm -f "$stamp"
    local start=$SECONDS staging
    staging=$(mktemp -d "$root/.tools/build.XXXXXX")
    if ! (cd "$module" && CGO_ENABLED=0 go build "${go_build_flags[@]}" -tags "${GO_TOOL_TAGS:-}" \
        -ldflags "-s -w ${GO_TOOL_LDFLAGS:-}" -o "$staging/" "${packages[@]}"); then
        rm -rf "$staging"
        exit 1
    fi
    local i
    for i in "${!names[@]}"; do
        mv -f "$staging/$(go_binary_name "${packages[$i]}")" "$tools_bin/${names[$i]}"
    done
    rm -rf "$staging"
    echo "$key" >"$stamp"
    echo "test-deps: built ${names[*]} in $((SECONDS - start)) s" >&2
}

# helm: `helm lint` and `helm template` of charts/tidb-backup-webhook, and `helm install`
# into the end-to-end tests' control plane.
helm_version=$(go_mod_version tools/helm helm.sh/helm/v4)
GO_TOOL_LDFLAGS="-X helm.sh/helm/v4/internal/version.version=$helm_version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    build_go_tool tools/helm helm

# promtool: `promtool check rules` and `promtool test rules` of manifests/monitoring.
prometheus_module=$(go_mod_version tools/promtool github.com/prometheus/prometheus)
# Module v0.316.0 is Prometheus 3.16.0.
prometheus_version=$(echo "$prometheus_module" | sed -E 's/^v0\.([0-9]+)([0-9]{2})\.([0-9]+)$/\1.\2.\3/; s/\.0([0-9])\./.\1./')
GO_TOOL_TAGS=remove_all_sd \
GO_TOOL_LDFLAGS="-X github.com/prometheus/common/version.Version=$prometheus_version -X github.com/prometheus/common/version.Revision=$prometheus_module -X github.com/prometheus/common/version.Branch=module" \
    build_go_tool tools/promtool promtool

# The end-to-end tests' control plane (tools/control-plane; update-modules.sh makes its
# modules): kube-apiserver, kube-controller-manager and kubectl from k8s.io/kubernetes
# (kubectl at the apiserver's version: no skew, the same output on every machine), with
# the release's version variables as Kubernetes' own build sets them, so that
# `kube-apiserver --version` prints it; etcd from go.etcd.io/etcd/server/v3, whose
# command is its module's root package.
k8s_version=$(go_mod_version tools/control-plane/kubernetes k8s.io/kubernetes)
if [[ ! $k8s_version =~ ^v([0-9]+)\.([0-9]+)\. ]]; then
    echo "test-deps: tools/control-plane/kubernetes/go.mod requires no k8s.io/kubernetes release (got '$k8s_version')" >&2
    exit 1
fi
k8s_build_date=$(cd "$root/tools/control-plane/kubernetes" &&
    go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
k8s_version_flags=()
for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_version_flags+=(
        "-X $package.gitVersion=$k8s_version"
        "-X $package.gitMajor=${BASH_REMATCH[1]}"
        "-X $package.gitMinor=${BASH_REMATCH[2]}"
        "-X $package.gitTreeState=clean"
        "-X $package.buildDate=$k8s_build_date"
    )
done
GO_TOOL_LDFLAGS="${k8s_version_flags[*]}" \
    build_go_tool tools/control-plane/kubernetes kube-apiserver kube-controller-manager kubectl
build_go_tool tools/control-plane/etcd etcd=go.etcd.io/etcd/server/v3
