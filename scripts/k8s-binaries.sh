#!/usr/bin/env bash
# Builds the binaries of a real (tiny) Kubernetes control plane for the k8s test project:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok (fake nodes that
# stand in for GPU nodes). No Debian package ships them and nothing may download a prebuilt
# binary, so each is compiled from its Go module through the Go module proxy, in a throwaway
# module of its own (each pins different k8s.io library versions). Cached by version under
# ${XDG_CACHE_HOME:-$HOME/.cache}/trainyard-ci/k8s-<versions>/bin, with the module and build
# caches beside them while building (removed once all five are built), so a second run does nothing. Prints the bin folder on stdout (last line).
#
#   scripts/k8s-binaries.sh          build what is missing, print the bin folder
#   K8S_BUILD_LOG=... to append per-binary build time and size (default: <cache>/build.log)
set -euo pipefail

K8S_VERSION=v1.37.2 # k8s.io/kubernetes; its staging modules are k8s.io/* v0.37.2
ETCD_VERSION=v3.7.3 # go.etcd.io/etcd/server/v3 (kubernetes v1.37 builds against etcd 3.7)
KWOK_VERSION=v0.8.0 # sigs.k8s.io/kwok

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/trainyard-ci/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
BIN="$CACHE_ROOT/bin"
LOG="${K8S_BUILD_LOG:-$CACHE_ROOT/build.log}"
mkdir -p "$BIN"

export GOMODCACHE="$CACHE_ROOT/gomod" GOCACHE="$CACHE_ROOT/gocache"
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
LDFLAGS_BASE="-s -w"

log() { echo "k8s-binaries: $*" >&2; }

# build NAME MODULE@VERSION PACKAGE [EXTRA_LDFLAGS] [REPLACES_FILE]: one throwaway module.
build() {
  local name="$1" modver="$2" pkg="$3" ldx="${4:-}" replaces="${5:-}"
  [ -x "$BIN/$name" ] && return 0
  local dir start secs size
  dir="$(mktemp -d)"
  start=$(date +%s)
  log "building $name from $modver (slow: minutes on two cores)"
  (
    cd "$dir"
    "$GO" mod init trainyard-ci/build-"$name" >/dev/null 2>&1
    if [ -n "$replaces" ]; then cat "$replaces" >>go.mod; fi
    "$GO" get "$modver" >&2
    "$GO" build -trimpath -ldflags="$LDFLAGS_BASE $ldx" -o "$BIN/$name.tmp" "$pkg" >&2
  )
  mv "$BIN/$name.tmp" "$BIN/$name"
  rm -rf "$dir"
  secs=$(($(date +%s) - start))
  size=$(stat -c %s "$BIN/$name")
  echo "$(date -u +%FT%TZ) $name $modver built in ${secs}s, $((size / 1048576)) MiB" | tee -a "$LOG" >&2
}

# k8s.io/kubernetes points its staging modules at ./staging/src/...: the same modules are
# published as k8s.io/<name> v0.<minor>.<patch>, so its replace lines are rewritten to those.
k8s_replaces() {
  local out="$1" modfile staging_ver="v0.${K8S_VERSION#v1.}"
  modfile="$("$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  {
    echo "replace ("
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/k8s\.io/[a-z0-9-]*$#\t\1 => \1 '"$staging_ver"'#p' "$modfile"
    echo ")"
  } >"$out"
}

K8S_LDX=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  K8S_LDX="$K8S_LDX -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

build etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION" go.etcd.io/etcd/server/v3
build kwok "sigs.k8s.io/kwok@$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"

need_k8s=0
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  [ -x "$BIN/$c" ] || need_k8s=1
done
if [ "$need_k8s" = 1 ]; then
  replaces="$(mktemp)"
  k8s_replaces "$replaces"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    build "$c" "k8s.io/kubernetes@$K8S_VERSION" "k8s.io/kubernetes/cmd/$c" "$K8S_LDX" "$replaces"
  done
  rm -f "$replaces"
fi

# Once every binary is there the build caches are dead weight (~5 GB): a new version is a new
# folder, and these binaries are what makes the next run instant.
if [ -d "$GOCACHE" ] || [ -d "$GOMODCACHE" ]; then
  "$GO" clean -modcache >/dev/null 2>&1 || true
  rm -rf "$GOCACHE" "$GOMODCACHE"
fi

echo "$BIN"
