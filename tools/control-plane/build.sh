#!/usr/bin/env bash
# Builds the test control plane into .tools/bin/ from the modules next to this script:
# kube-apiserver, kube-controller-manager and kubectl (k8s.io/kubernetes; kubectl at the
# apiserver's version, so the tests do not depend on the machine's kubectl and its version
# skew) and etcd (go.etcd.io/etcd/server/v3). Skips everything when the binaries were
# built from the same go.mod/go.sum files and the same build script (a stamp keyed by
# their hash).
#
# The binaries are for tests: static (CGO off), -trimpath, without symbol tables (-s -w:
# a noticeably shorter link on a 2-core machine), with the release's version compiled in
# as Kubernetes' own build does, so that `kube-apiserver --version` prints it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/.tools/bin"
stamp="$root/.tools/control-plane.stamp"
binaries=(etcd kube-apiserver kube-controller-manager kubectl)

if ! command -v go >/dev/null 2>&1; then
    echo "control-plane: the Go toolchain (go) is needed to build kube-apiserver, kube-controller-manager, kubectl and etcd" >&2
    exit 1
fi

key=$(cd "$here" && cat build.sh kubernetes/go.mod kubernetes/go.sum etcd/go.mod etcd/go.sum | sha256sum | cut -d' ' -f1)
all_built() { for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if all_built && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
    exit 0
fi

module_version() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
module_time() { (cd "$1" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$2"); }

k8s_version=$(module_version "$here/kubernetes" k8s.io/kubernetes)
etcd_version=$(module_version "$here/etcd" go.etcd.io/etcd/server/v3)
echo "control-plane: building kube-apiserver, kube-controller-manager and kubectl $k8s_version, etcd $etcd_version into .tools/bin (once per go.sum change)" >&2

[[ $k8s_version =~ ^v([0-9]+)\.([0-9]+)\. ]]
version_flags=()
for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    version_flags+=(
        "-X '$package.gitVersion=$k8s_version'"
        "-X '$package.gitMajor=${BASH_REMATCH[1]}'"
        "-X '$package.gitMinor=${BASH_REMATCH[2]}'"
        "-X '$package.gitTreeState=clean'"
        "-X '$package.buildDate=$(module_time "$here/kubernetes" k8s.io/kubernetes)'"
    )
done

export CGO_ENABLED=0
mkdir -p "$bin"
rm -f "$stamp"
start=$SECONDS
(cd "$here/etcd" && go build -buildvcs=false -trimpath -ldflags="-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3)
(cd "$here/kubernetes" && go build -buildvcs=false -trimpath -ldflags="-s -w ${version_flags[*]}" -o "$bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
echo "$key" >"$stamp"
echo "control-plane: built in $((SECONDS - start)) s: $("$bin/kube-apiserver" --version), etcd $("$bin/etcd" --version | sed -n 's/^etcd Version: //p')" >&2
