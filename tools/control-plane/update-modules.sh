#!/usr/bin/env bash
# Regenerates the two Go modules the test control plane is built from, for one Kubernetes
# release (default: the one kubernetes/go.mod requires now):
#
#   tools/control-plane/kubernetes  k8s.io/kubernetes, for kube-apiserver,
#                                   kube-controller-manager and kubectl
#   tools/control-plane/etcd        go.etcd.io/etcd/server/v3 at the version that
#                                   release of Kubernetes pins
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at
# v0.0.0 and points them at ./staging with replace directives, which only apply inside
# its own repository. A module that builds its commands must replace each of them with
# the published release of the same minor (v1.N.P -> v0.N.P). The list is read from the
# release's own go.mod, never kept by hand. Usage:
#
#   tools/control-plane/update-modules.sh [v1.N.P]
#
# Then commit both go.mod and go.sum files; make test-deps rebuilds when they change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

current() {
    [ -f "$here/kubernetes/go.mod" ] || return 0
    go mod edit -json "$here/kubernetes/go.mod" |
        jq -r '.Require[] | select(.Path == "k8s.io/kubernetes") | .Version'
}
version=${1:-$(current)}
if [[ ! $version =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "usage: $0 v1.N.P (a Kubernetes release; got '${version}')" >&2
    exit 2
fi
staging_version="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"

# The release's go.mod, as the module proxy serves it, in go's own JSON form.
info=$(go mod download -json "k8s.io/kubernetes@$version")
gomod=$(jq -r .GoMod <<<"$info")
upstream=$(go mod edit -json "$gomod")
go_version=$(jq -r .Go <<<"$upstream")

# Staging modules: required at v0.0.0 and replaced by a directory under ./staging/.
mapfile -t staging < <(jq -r '
    [.Require[] | select(.Version == "v0.0.0") | .Path] as $pinned
    | .Replace[] | select(.New.Path | startswith("./staging/")) | .Old.Path
    | select(. as $p | $pinned | index($p))' <<<"$upstream" | sort)
if [ "${#staging[@]}" -eq 0 ]; then
    echo "$0: found no staging modules in k8s.io/kubernetes@$version's go.mod" >&2
    exit 1
fi
etcd_version=$(jq -r '.Require[] | select(.Path == "go.etcd.io/etcd/server/v3") | .Version' <<<"$upstream")
if [ -z "$etcd_version" ]; then
    echo "$0: k8s.io/kubernetes@$version's go.mod does not pin go.etcd.io/etcd/server/v3" >&2
    exit 1
fi

# write_module DIR MODULE_PATH [GO.MOD LINES...]: a go.mod without sources (the binaries
# are its `tool`s), at the Go version the release asks for.
write_module() {
    local dir=$1 path=$2
    shift 2
    mkdir -p "$dir"
    rm -f "$dir/go.sum"
    {
        printf 'module %s\n\ngo %s\n' "$path" "$go_version"
        printf '%s\n' "$@"
    } >"$dir/go.mod"
}

replace_block=("" "replace (")
for module in "${staging[@]}"; do
    replace_block+=("	$module => $module $staging_version")
done
replace_block+=(")")

k8s="$here/kubernetes"
write_module "$k8s" tidb-backup-webhook/tools/control-plane/kubernetes \
    "" "require k8s.io/kubernetes $version" "${replace_block[@]}"
(
    cd "$k8s"
    go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$version" \
        "k8s.io/kubernetes/cmd/kube-controller-manager@$version" \
        "k8s.io/kubernetes/cmd/kubectl@$version"
    go mod tidy
)

etcd="$here/etcd"
write_module "$etcd" tidb-backup-webhook/tools/control-plane/etcd
(
    cd "$etcd"
    go get -tool "go.etcd.io/etcd/server/v3@$etcd_version"
    go mod tidy
)

echo "k8s.io/kubernetes $version (${#staging[@]} staging modules at $staging_version), etcd $etcd_version" >&2
