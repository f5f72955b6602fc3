#!/usr/bin/env bash
# A local Kubernetes API for the demo stacks and the integration tests: etcd + kube-apiserver +
# kube-controller-manager on 127.0.0.1 only, with the upstream CRDs the stacks use, and the real
# cert-manager and External Secrets controllers running outside the cluster against it. No kubelet or
# scheduler: Pods stay Pending; objects, CRD schemas, RBAC, namespaces, garbage collection, certificate
# issuance and secret syncing are real.
#
#   bash scripts/cluster.sh up              start (or reuse) the cluster in $CLUSTER_DIR, load the CRDs
#   bash scripts/cluster.sh down [--purge]  stop it; --purge (or a non-default CLUSTER_DIR) removes its state
#   bash scripts/cluster.sh status          print whether it runs (exit 0 running, 1 not)
#   bash scripts/cluster.sh crds            (re)load the CRDs into the running cluster
#   bash scripts/cluster.sh binaries        build or link the binaries only (so a test's timeout is not spent building)
#   bash scripts/cluster.sh egctl           build or link Envoy Gateway's binaries only (egctl: make test-mtls's SNI router)
#
# Environment:
#   CLUSTER_DIR             state dir (default <repo>/.cluster): etcd data, certs, kubeconfig, pids/, logs/
#   CLUSTER_APISERVER_PORT  apiserver port (default: 26443 for the default CLUSTER_DIR, the port the demo's
#                           demo/Pulumi.global.yaml names; a free one, kept across restarts, for any other dir)
#   CLUSTER_ETCD_PORT       etcd client port (default: a free one; the peer port is picked beside it)
#   NAUTOBOT_TOOLS_CACHE    binary cache outside the clone (default ~/.cache/nautobot-worker-pulumi)
#   NAUTOBOT_CERT_MANAGER_CONTROLLER      a prebuilt cert-manager controller v1.19.2 to use instead of building
#                                         one from ../shared/third_party (required where that folder is absent)
#   NAUTOBOT_EXTERNAL_SECRETS_CONTROLLER  a prebuilt External Secrets controller v0.20.4 to use instead of building
#   NAUTOBOT_EXTERNAL_SECRETS_ALL_PROVIDERS=1  build External Secrets with all its providers (default: only
#                                         the kubernetes provider the stacks use: 2.4x less CPU, a third of the memory)
#   NAUTOBOT_ENVOY_GATEWAY_CONTROLLER     a prebuilt envoy-gateway v1.9.1 to use instead of building one (its own
#                                         xDS and Wasm listeners then bind what upstream binds: 0.0.0.0:18000/18002)
#   NAUTOBOT_EGCTL                        a prebuilt egctl v1.9.1 to use instead of building one
#
# Versions: kube-apiserver/kube-controller-manager v1.33.13 built from tools/kube (kubectl 1.32 talks to
# it without a skew warning); etcd from Debian (etcd-server 3.4); cert-manager controller v1.19.2 and
# External Secrets controller v0.20.4 (see build_cert_manager, build_external_secrets); Envoy Gateway's
# controller and egctl v1.9.1 (build_envoy_gateway). CRDs come from the
# Go module zips pinned in crd_sources below. The kubeconfig is $CLUSTER_DIR/kubeconfig, context
# "nautobot-local".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=v1.33.13
default_dir="$root/.cluster"
dir="${CLUSTER_DIR:-$default_dir}"
bin="$root/.tools/bin"
cache_root="${NAUTOBOT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nautobot-worker-pulumi}"
context=nautobot-local
# The demo cluster's fixed port: demo/Pulumi.global.yaml's authority.caPublicStore.serverUrl must name it,
# because External Secrets runs outside the cluster and cannot use the in-cluster kubernetes.default.
demo_apiserver_port=26443
cert_manager_version=v1.19.2
eso_version=v0.20.4
envoy_gateway_version=v1.9.1
cert_manager_src="$root/../shared/third_party/cert-manager-controller-$cert_manager_version"
# Where the stand-in secrets provider of the demo sites keeps its items (ClusterSecretStore demo-secrets).
demo_secrets_namespace=demo-secrets-provider
controllers=(cert-manager-controller external-secrets envoy-gateway)
# Envoy Gateway's own namespace (ENVOY_GATEWAY_NAMESPACE), where the global stack's Gateway lives too, as on a
# real global cluster, and the GatewayClass its install provides for every Gateway of the cluster.
envoy_gateway_namespace=envoy-gateway
gateway_class=eg
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

# "module@version glob-inside-the-module". Exact versions only: the Go proxy here refuses some (403), e.g.
# envoyproxy/gateway v1.6.1 and v1.5.x. Every file is plain YAML (no Helm templating). The Gateway API CRDs
# are the ones Envoy Gateway v1.9.1's chart installs (gateway-api v1.6.1, experimental channel: TLSRoute
# served at v1, which the controller watches, and at v1alpha2/v1alpha3), and its own CRDs of the same tag.
crd_sources=(
  "github.com/cert-manager/cert-manager@v1.19.2 deploy/crds/*.yaml"
  "github.com/cloudnative-pg/cloudnative-pg@v1.28.0 config/crd/bases/*.yaml"
  "github.com/external-secrets/external-secrets@v0.20.4 deploy/crds/bundle.yaml"
  "github.com/envoyproxy/gateway@v1.9.1 charts/gateway-helm/charts/crds/crds/gatewayapi-crds.yaml charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_*.yaml"
)

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# `go mod download -json` prints a stream of objects (not one array), and the go command promises no key
# order or layout, so they are read with a JSON parser.
go_mods_py='
import json, sys
text, decoder, i, mods = sys.stdin.read(), json.JSONDecoder(), 0, []
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        break
    mod, i = decoder.raw_decode(text, i)
    mods.append(mod)
'
# go_mod_dir MODULE@VERSION <JSON: that module's directory, nothing when it has none.
go_mod_dir() {
  py3 -c "$go_mods_py"'
for m in mods:
    if "%s@%s" % (m.get("Path"), m.get("Version")) == sys.argv[1] and m.get("Dir"):
        print(m["Dir"])' "$1"
}
# go_mod_errors <JSON: one line per module whose download failed.
go_mod_errors() {
  py3 -c "$go_mods_py"'
for m in mods:
    if m.get("Error"):
        print("%s@%s: %s" % (m.get("Path"), m.get("Version"), m["Error"]))'
}

# ---------------------------------------------------------------------------------------------------
# Binaries

build_kube() {
  local minor out
  minor=$(printf '%s' "$k8s_version" | cut -d. -f2)
  out="$cache.tmp.$$"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$root/tools/kube" && GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version \
      -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
      -X k8s.io/component-base/version.gitTreeState=clean \
      -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version \
      -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor" \
    -o "$out/" "$@")
  mkdir -p "$cache"
  mv "$out"/* "$cache/"
  rmdir "$out"
}

kube_stamp() {
  { go version; cat "$root"/tools/kube/go.{mod,sum}; declare -f build_kube; } | sha256sum | cut -c1-16
}

# The cert-manager controller's main module is not served by the Go proxy; ../shared/third_party keeps it
# unchanged. It is copied into a scratch dir (the source is read-only and go.sum gets completed) and built
# as its README says; the dependency versions are those of its go.mod.
build_cert_manager() {
  local out=$1 work
  work="$cache_root/build/cert-manager.$$"
  rm -rf "$cache_root"/build/cert-manager.* && mkdir -p "$work" # the build lock is held: older dirs are leftovers
  cp -R "$cert_manager_src/." "$work/"
  chmod -R u+w "$work"
  (cd "$work" && GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath \
    -ldflags "-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$cert_manager_version" \
    -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

# External Secrets from tools/external-secrets (main calls ESO's cmd/controller). The go command refuses an
# overlay of files in the module cache, so ESO's module is copied into a scratch dir and the wrapper is
# pointed at the copy; the overlay then swaps the two register.go files (the list of providers and
# generators) for ours, which keep only the kubernetes provider: the other providers' cloud SDKs are most
# of a full build (measured: 19 CPU-minutes and 2.5 GB with them, 8 and 0.9 GB without). The copy stays
# byte-for-byte upstream.
build_external_secrets() {
  local out=$1 work json mod_dir ov="$root/tools/external-secrets/overlay" overlay=()
  work="$cache_root/build/external-secrets.$$"
  rm -rf "$cache_root"/build/external-secrets.* && mkdir -p "$work/wrapper"
  json=$(cd / && GOFLAGS='' GOWORK=off GO111MODULE=on go mod download -json "github.com/external-secrets/external-secrets@$eso_version") ||
    { printf '%s\n' "$json" | go_mod_errors || true; echo "go mod download of external-secrets $eso_version failed" >&2; return 1; }
  mod_dir=$(go_mod_dir "github.com/external-secrets/external-secrets@$eso_version" <<<"$json")
  [ -d "$mod_dir" ] || { echo "go mod download of external-secrets $eso_version gave no module dir" >&2; return 1; }
  cp -R "$mod_dir" "$work/eso"
  chmod -R u+w "$work/eso"
  cp "$root"/tools/external-secrets/{go.mod,go.sum,main.go} "$work/wrapper/"
  printf '\nreplace github.com/external-secrets/external-secrets => ../eso\n' >>"$work/wrapper/go.mod"
  if [ "${NAUTOBOT_EXTERNAL_SECRETS_ALL_PROVIDERS:-}" != 1 ]; then
    printf '{"Replace": {"%s": "%s", "%s": "%s"}}\n' \
      "$work/eso/pkg/provider/register/register.go" "$ov/provider_register.go" \
      "$work/eso/pkg/generator/register/register.go" "$ov/generator_register.go" >"$work/overlay.json"
    overlay=(-overlay "$work/overlay.json")
  fi
  (cd "$work/wrapper" && GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath \
    -ldflags "-s -w" "${overlay[@]}" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

# Envoy Gateway's controller and egctl from tools/envoy-gateway, in one `go build` (they share most packages).
# The controller runs here outside a pod, beside other clusters' controllers, so its listeners must be
# loopback-only and on free ports: the admin server and metrics are configured (start_envoy_gateway), the
# health probe (:8081) and controller-runtime's metrics (:8080) are variables set to "0" (off) with -X, and
# the xDS and Wasm servers, whose 0.0.0.0:18000 and :18002 are
# constants, get 127.0.0.1:0 by a substitution in a scratch copy of the module (checked to have applied; no
# Envoy proxy connects here). The translation and status code is upstream's, unchanged.
build_envoy_gateway() {
  local out=$1 work json mod_dir
  work="$cache_root/build/envoy-gateway.$$"
  rm -rf "$cache_root"/build/envoy-gateway.* && mkdir -p "$work/wrapper"
  json=$(cd / && GOFLAGS='' GOWORK=off GO111MODULE=on go mod download -json "github.com/envoyproxy/gateway@$envoy_gateway_version") ||
    { printf '%s\n' "$json" | go_mod_errors || true; echo "go mod download of envoyproxy/gateway $envoy_gateway_version failed" >&2; return 1; }
  mod_dir=$(go_mod_dir "github.com/envoyproxy/gateway@$envoy_gateway_version" <<<"$json")
  [ -d "$mod_dir" ] || { echo "go mod download of envoyproxy/gateway $envoy_gateway_version gave no module dir" >&2; return 1; }
  cp -R "$mod_dir" "$work/eg"
  chmod -R u+w "$work/eg"
  local xds="$work/eg/internal/xds/runner/runner.go" wasm="$work/eg/internal/wasm/httpserver.go"
  sed -i 's|addr := net.JoinHostPort(XdsServerAddress, strconv.Itoa(bootstrap.DefaultXdsServerPort))|addr := "127.0.0.1:0"|' "$xds"
  printf '\nvar _, _ = strconv.Itoa, bootstrap.DefaultXdsServerPort\n' >>"$xds"
  sed -i 's|Addr:              fmt.Sprintf(":%d", serverPort),|Addr:              "127.0.0.1:0",|' "$wasm"
  if ! grep -qF 'addr := "127.0.0.1:0"' "$xds" || ! grep -qF 'Addr:              "127.0.0.1:0",' "$wasm"; then
    echo "the xDS or Wasm listen address of envoyproxy/gateway $envoy_gateway_version is not where build_envoy_gateway expects it" >&2
    return 1
  fi
  cp "$root"/tools/envoy-gateway/{go.mod,go.sum,tools.go} "$work/wrapper/"
  printf '\nreplace github.com/envoyproxy/gateway => ../eg\n' >>"$work/wrapper/go.mod"
  mkdir -p "$out.tmp"
  (cd "$work/wrapper" && GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath \
    -ldflags "-s -w -X github.com/envoyproxy/gateway/internal/cmd/version.envoyGatewayVersion=$envoy_gateway_version \
      -X github.com/envoyproxy/gateway/internal/provider/kubernetes.healthProbeBindAddress=0 \
      -X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=0" \
    -o "$out.tmp/" github.com/envoyproxy/gateway/cmd/envoy-gateway github.com/envoyproxy/gateway/cmd/egctl)
  mkdir -p "$out"
  mv "$out.tmp"/envoy-gateway "$out.tmp"/egctl "$out/"
  rmdir "$out.tmp"
  rm -rf "$work"
}

envoy_gateway_stamp() {
  { go version; echo "$envoy_gateway_version"; declare -f build_envoy_gateway; cat "$root"/tools/envoy-gateway/{go.mod,go.sum,tools.go}; } |
    sha256sum | cut -c1-16
}

cert_manager_stamp() {
  { go version; declare -f build_cert_manager; (cd "$cert_manager_src" && find . -type f | LC_ALL=C sort | xargs sha256sum); } |
    sha256sum | cut -c1-16
}

external_secrets_stamp() {
  { go version; echo "$eso_version all-providers=${NAUTOBOT_EXTERNAL_SECRETS_ALL_PROVIDERS:-}"; declare -f build_external_secrets
    cat "$root"/tools/external-secrets/{go.mod,go.sum,main.go} "$root"/tools/external-secrets/overlay/*.go; } | sha256sum | cut -c1-16
}

# timed NAME COLD OUTPUT CMD...: run a build, its output in a log file, and log how long it took. Success is
# OUTPUT being there: CMD runs under `||`, where bash ignores errexit, so a build function whose `go build`
# failed would otherwise still return its last command's status.
timed() {
  local t name=$1 cold=$2 out=$3 log="$cache_root/build/$1.log"
  shift 3
  t=$(now)
  mkdir -p "$cache_root/build"
  log "building $name (cold: $cold on 2 cores; log $log)"
  if ! "$@" >"$log" 2>&1 || [ ! -x "$out" ]; then
    tail -n 30 "$log" >&2
    die "building $name failed"
  fi
  log "$name built in $(since "$t")"
}

# Sets cert_manager_controller, external_secrets_controller, envoy_gateway_controller and egctl: the prebuilt binaries named by the
# environment, or where the cache keeps (or will keep) the builds.
controller_paths() {
  if [ -n "${NAUTOBOT_CERT_MANAGER_CONTROLLER:-}" ]; then
    [ -x "$NAUTOBOT_CERT_MANAGER_CONTROLLER" ] || die "NAUTOBOT_CERT_MANAGER_CONTROLLER=$NAUTOBOT_CERT_MANAGER_CONTROLLER is not an executable"
    cert_manager_controller=$NAUTOBOT_CERT_MANAGER_CONTROLLER
  else
    [ -d "$cert_manager_src" ] || die "the cert-manager controller $cert_manager_version source is not at $cert_manager_src (the proxy does not serve its module); set NAUTOBOT_CERT_MANAGER_CONTROLLER=/path/to/cert-manager-controller (a $cert_manager_version controller binary, e.g. one a clone with ../shared built into $cache_root/cert-manager-*/)"
    cert_manager_controller="$cache_root/cert-manager-$(cert_manager_stamp)/cert-manager-controller"
  fi
  if [ -n "${NAUTOBOT_EXTERNAL_SECRETS_CONTROLLER:-}" ]; then
    [ -x "$NAUTOBOT_EXTERNAL_SECRETS_CONTROLLER" ] || die "NAUTOBOT_EXTERNAL_SECRETS_CONTROLLER=$NAUTOBOT_EXTERNAL_SECRETS_CONTROLLER is not an executable"
    external_secrets_controller=$NAUTOBOT_EXTERNAL_SECRETS_CONTROLLER
  else
    external_secrets_controller="$cache_root/external-secrets-$(external_secrets_stamp)/external-secrets"
  fi
  envoy_gateway_paths
}

# Sets envoy_gateway_controller and egctl, as controller_paths does.
envoy_gateway_paths() {
  envoy_gateway_cache="$cache_root/envoy-gateway-$(envoy_gateway_stamp)"
  envoy_gateway_controller=${NAUTOBOT_ENVOY_GATEWAY_CONTROLLER:-$envoy_gateway_cache/envoy-gateway}
  egctl=${NAUTOBOT_EGCTL:-$envoy_gateway_cache/egctl}
  if [ -n "${NAUTOBOT_ENVOY_GATEWAY_CONTROLLER:-}" ] && [ ! -x "$envoy_gateway_controller" ]; then
    die "NAUTOBOT_ENVOY_GATEWAY_CONTROLLER=$envoy_gateway_controller is not an executable"
  fi
  if [ -n "${NAUTOBOT_EGCTL:-}" ] && [ ! -x "$egctl" ]; then die "NAUTOBOT_EGCTL=$egctl is not an executable"; fi
}

# build_envoy_gateway_if_missing: under the build lock.
build_envoy_gateway_if_missing() {
  if [ ! -x "$envoy_gateway_controller" ] || [ ! -x "$egctl" ]; then
    timed "envoy-gateway-$envoy_gateway_version" "~8 min" "$envoy_gateway_cache/egctl" build_envoy_gateway "$envoy_gateway_cache"
  fi
}

link_envoy_gateway() {
  ln -sfn "$envoy_gateway_controller" "$bin/envoy-gateway"
  ln -sfn "$egctl" "$bin/egctl"
}

# ensure_egctl: Envoy Gateway's binaries alone, which make test-mtls needs before the cluster's (CI builds
# them first, so the mTLS tests need not wait for the rest).
ensure_egctl() {
  command -v go >/dev/null || die "go is required to build egctl"
  mkdir -p "$bin" "$cache_root"
  envoy_gateway_paths
  if [ ! -x "$envoy_gateway_controller" ] || [ ! -x "$egctl" ]; then
    build_lock "$cache_root"
    build_envoy_gateway_if_missing
    build_unlock
  fi
  link_envoy_gateway
}

# missing_kube WANT...: the kube packages whose binaries the cache lacks.
missing_kube() {
  local b
  for b in "$@"; do [ -x "$cache/$b" ] || printf 'k8s.io/kubernetes/cmd/%s\n' "$b"; done
}

ensure_binaries() {
  command -v go >/dev/null || die "go is required to build kube-apiserver"
  mkdir -p "$bin" "$cache_root"
  cache="$cache_root/kube-$(kube_stamp)"
  local want=(kube-apiserver kube-controller-manager) missing=() t
  kubectl=$(system_kubectl) || want+=(kubectl)
  controller_paths
  t=$(now)
  mapfile -t missing < <(missing_kube "${want[@]}")
  # The lock only when something is to be built, so a start with everything cached never waits for another
  # clone's build; what was missing is checked again under it, as the other build may have made it.
  if [ ${#missing[@]} -gt 0 ] || [ ! -x "$cert_manager_controller" ] || [ ! -x "$external_secrets_controller" ] ||
    [ ! -x "$envoy_gateway_controller" ] || [ ! -x "$egctl" ]; then
    build_lock "$cache_root"
    mapfile -t missing < <(missing_kube "${want[@]}")
    if [ ${#missing[@]} -gt 0 ]; then
      log "building ${missing[*]##*/} $k8s_version into $cache (cold: ~8-10 min on 2 cores)"
      build_kube "${missing[@]}"
      log "build done in $(since "$t")"
    fi
    if [ ! -x "$cert_manager_controller" ]; then
      mkdir -p "$(dirname "$cert_manager_controller")"
      timed "cert-manager-controller-$cert_manager_version" "~10 min" "$cert_manager_controller" build_cert_manager "$cert_manager_controller"
    fi
    if [ ! -x "$external_secrets_controller" ]; then
      mkdir -p "$(dirname "$external_secrets_controller")"
      timed "external-secrets-$eso_version" "~5 min" "$external_secrets_controller" build_external_secrets "$external_secrets_controller"
    fi
    build_envoy_gateway_if_missing
    build_unlock
  fi
  log "binaries $k8s_version in $cache; controllers: cert-manager $cert_manager_controller, external-secrets $external_secrets_controller, envoy-gateway $envoy_gateway_controller"
  for b in "${want[@]}"; do ln -sfn "$cache/$b" "$bin/$b"; done
  ln -sfn "$cert_manager_controller" "$bin/cert-manager-controller"
  ln -sfn "$external_secrets_controller" "$bin/external-secrets"
  link_envoy_gateway
  kube_apiserver="$cache/kube-apiserver"
  kube_controller_manager="$cache/kube-controller-manager"
  [ -n "$kubectl" ] || kubectl="$bin/kubectl"
}

# A kubectl on PATH other than our own build in .tools/bin; ours (same version as the server) otherwise.
system_kubectl() {
  PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$bin" | paste -sd:) command -v kubectl 2>/dev/null
}

find_kubectl() { kubectl=$(system_kubectl) || kubectl="$bin/kubectl"; }

ensure_etcd() {
  etcd=$(command -v etcd 2>/dev/null) && return 0
  [ -x /usr/bin/etcd ] && { etcd=/usr/bin/etcd; return 0; }
  [ "$(id -u)" = 0 ] || die "etcd not found: install it (apt-get install etcd-server) or put it on PATH"
  log "installing etcd-server from apt (log: $cache_root/apt.log)"
  mkdir -p "$cache_root"
  (
    flock 8
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends etcd-server ||
      { apt-get update && apt-get install -y --no-install-recommends etcd-server; }
  ) 8>"$cache_root/apt.lock" >"$cache_root/apt.log" 2>&1 || { tail -n 20 "$cache_root/apt.log" >&2; die "apt-get install etcd-server failed"; }
  etcd=$(command -v etcd 2>/dev/null || echo /usr/bin/etcd)
  [ -x "$etcd" ] || die "etcd-server installed but no etcd binary found"
}

# ---------------------------------------------------------------------------------------------------
# Processes

# pid_alive NAME: the pid in pids/NAME.pid runs and belongs to this cluster dir (guards against pid reuse):
# its command line names a file of the dir, or (External Secrets has no --kubeconfig flag) its KUBECONFIG does.
pid_alive() {
  local f="$dir/pids/$1.pid" pid cmd
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/cmdline" ] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  if [[ $cmd != *"$dir/"* ]]; then
    # No -q: grep stopping at the match would let tr fail on SIGPIPE, and pipefail turn a match into a miss.
    tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -xF "KUBECONFIG=$dir/$1.kubeconfig" >/dev/null || return 1
  fi
  printf '%s\n' "$pid"
}

# spawn NAME CMD...: start CMD in its own session with no inherited stdio (so a caller that captures
# our output, like a Go test, is not held open) and record its pid.
spawn() {
  local name=$1
  shift
  rm -f "$dir/pids/$name.pid"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner sh
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$dir/pids/$name.pid" "$@" \
    </dev/null >>"$dir/logs/$name.log" 2>&1 7>&- 9>&- &
  local i
  for i in $(seq 50); do [ -s "$dir/pids/$name.pid" ] && return 0; sleep 0.05; done
  die "$name did not start"
}

fail_with_log() {
  log "$1; last lines of $dir/logs/$2.log:"
  tail -n 25 "$dir/logs/$2.log" >&2 || true
  stop_all
  exit 1
}

stop_all() {
  local name pid pids=() i
  for name in "${controllers[@]}" kube-controller-manager kube-apiserver etcd; do
    if pid=$(pid_alive "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for i in $(seq 50); do
    local left=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && break
    pids=("${left[@]}")
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -f "$dir"/pids/*.pid
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free port below the kernel's ephemeral range (32768+), so outgoing connections do not take it.
free_port() {
  local p i
  for i in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    case " $* " in *" $p "*) continue ;; esac
    port_free "$p" && { printf '%s\n' "$p"; return 0; }
  done
  die "no free port found"
}

saved_port() { sed -n "s/^$1=//p" "$dir/ports.env" 2>/dev/null; }

# pick_port WANTED SAVED TAKEN...: the requested port, else the one used last time if free, else a free one.
pick_port() {
  local wanted=$1 saved=$2
  shift 2
  if [ -n "$wanted" ]; then
    port_free "$wanted" || die "port $wanted is in use"
    echo "$wanted"
  elif [ -n "$saved" ] && port_free "$saved"; then
    echo "$saved"
  else
    free_port "$@"
  fi
}

choose_ports() {
  local wanted=${CLUSTER_APISERVER_PORT:-}
  if [ -z "$wanted" ] && [ "$dir" = "$default_dir" ]; then
    wanted=$demo_apiserver_port
    port_free "$wanted" || die "port $wanted, the demo API server's (named by authority.caPublicStore.serverUrl in demo/Pulumi.global.yaml), is in use, perhaps by another clone's cluster; stop that, or set CLUSTER_APISERVER_PORT and edit serverUrl to match"
  fi
  apiserver_port=$(pick_port "$wanted" "$(saved_port apiserver_port)")
  etcd_port=$(pick_port "${CLUSTER_ETCD_PORT:-}" "$(saved_port etcd_port)" "$apiserver_port")
  if [ -n "${CLUSTER_ETCD_PORT:-}" ] && port_free $((CLUSTER_ETCD_PORT + 1)); then
    etcd_peer_port=$((CLUSTER_ETCD_PORT + 1))
  else
    etcd_peer_port=$(pick_port "" "$(saved_port etcd_peer_port)" "$apiserver_port" "$etcd_port")
  fi
  printf 'apiserver_port=%s\netcd_port=%s\netcd_peer_port=%s\n' "$apiserver_port" "$etcd_port" "$etcd_peer_port" >"$dir/ports.env"
}

ensure_credentials() {
  if [ ! -s "$dir/sa.key" ]; then
    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  fi
  if [ ! -s "$dir/tokens.csv" ]; then
    (umask 077 && printf '%s,admin,admin,system:masters\n' "$(openssl rand -hex 24)" >"$dir/tokens.csv")
  fi
  chmod 600 "$dir/sa.key" "$dir/tokens.csv"
}

# kubeconfig_file FILE USER TOKEN: a kubeconfig for this cluster, written atomically (mode 0600).
kubeconfig_file() {
  local ca
  ca=$(base64 -w0 <"$dir/serving/apiserver.crt")
  (umask 077 && cat >"$1.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $context
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority-data: $ca
users:
- name: $2
  user:
    token: $3
contexts:
- name: $context
  context:
    cluster: $context
    user: $2
    namespace: default
current-context: $context
EOF
  )
  mv "$1.tmp" "$1"
}

write_kubeconfig() { kubeconfig_file "$dir/kubeconfig" "$context-admin" "$(cut -d, -f1 "$dir/tokens.csv")"; }

kc() { "$kubectl" --kubeconfig "$dir/kubeconfig" "$@"; }

ready() { [ -s "$dir/kubeconfig" ] && kc get --raw=/readyz --request-timeout=2s >/dev/null 2>&1; }

# ready_within SECONDS: a running but busy apiserver gets some time before `up` restarts it.
ready_within() {
  local deadline=$((SECONDS + $1))
  until ready; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}

running() { pid_alive etcd >/dev/null && pid_alive kube-apiserver >/dev/null && pid_alive kube-controller-manager >/dev/null; }

controllers_running() {
  local name
  for name in "${controllers[@]}"; do pid_alive "$name" >/dev/null || return 1; done
}

server_url() { grep -m1 'server:' "$dir/kubeconfig" | awk '{print $2}'; }

start_processes() {
  mkdir -p "$dir/pids" "$dir/logs" "$dir/etcd" "$dir/serving"
  chmod 700 "$dir/etcd"
  ensure_credentials
  choose_ports
  local t
  t=$(now)
  log "starting etcd :$etcd_port, kube-apiserver :$apiserver_port (127.0.0.1 only, state $dir)"
  spawn etcd "$etcd" --name default --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "default=http://127.0.0.1:$etcd_peer_port" --logger zap --log-outputs stderr
  spawn kube-apiserver "$kube_apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$apiserver_port" \
    --endpoint-reconciler-type=none --cert-dir="$dir/serving" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/sa.pub" --service-account-signing-key-file="$dir/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true \
    --authorization-mode=RBAC --token-auth-file="$dir/tokens.csv" \
    --disable-admission-plugins=ServiceAccount --profiling=false
  local i
  for i in $(seq 300); do
    pid_alive etcd >/dev/null || fail_with_log "etcd exited" etcd
    pid_alive kube-apiserver >/dev/null || fail_with_log "kube-apiserver exited" kube-apiserver
    if [ -s "$dir/serving/apiserver.crt" ]; then
      if ! { [ -s "$dir/kubeconfig" ] && grep -qF ":$apiserver_port" "$dir/kubeconfig" &&
        grep -qF "$(base64 -w0 <"$dir/serving/apiserver.crt")" "$dir/kubeconfig"; }; then
        write_kubeconfig
      fi
      ready && break
    fi
    sleep 0.2
  done
  ready || fail_with_log "kube-apiserver not ready after 60 s" kube-apiserver
  log "kube-apiserver ready in $(since "$t")"
  spawn kube-controller-manager "$kube_controller_manager" \
    --kubeconfig="$dir/kubeconfig" --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
    --controllers='*,-serviceaccount-token' --use-service-account-credentials=false \
    --service-account-private-key-file="$dir/sa.key" --profiling=false
}

# ---------------------------------------------------------------------------------------------------
# Controllers

# controller_kubeconfig PROCESS SERVICEACCOUNT NAMESPACE: a kubeconfig with a TokenRequest token of the
# controller's own ServiceAccount, so the API server and its audit see each controller as itself. The
# account is bound to cluster-admin: the controllers' upstream RBAC ships only inside their Helm charts.
controller_kubeconfig() {
  local token
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $3}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: $2, namespace: $3}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "nautobot-local:$2"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: $2, namespace: $3}]
EOF
  token=$(kc create token "$2" -n "$3" --duration=8760h)
  kubeconfig_file "$dir/$1.kubeconfig" "system:serviceaccount:$3:$2" "$token"
}

# start_envoy_gateway: Envoy Gateway's controller outside a pod, as its chart would run it in one. It reads its
# xDS server certificate from /certs, so it runs in a private mount namespace where $dir/envoy-gateway/certs/
# envoy-gateway is mounted there (the empty /certs is created once as the mount point), and a tmpfs on /var/lib
# takes its Wasm cache. Its admin server gets a free loopback port, metrics and the topology webhook are off,
# and leader election is off (one replica).
start_envoy_gateway() {
  local home="$dir/envoy-gateway" admin_port
  controller_kubeconfig envoy-gateway envoy-gateway "$envoy_gateway_namespace"
  if [ ! -s "$home/certs/envoy-gateway/tls.crt" ]; then
    "$envoy_gateway_controller" certgen --local --config-home "$home" >"$dir/logs/envoy-gateway-certgen.log" 2>&1 ||
      { tail -n 20 "$dir/logs/envoy-gateway-certgen.log" >&2; die "envoy-gateway certgen failed"; }
  fi
  # What certgen writes as Secrets of its namespace when it runs in the cluster: the proxies' and rate limit's
  # xDS client certificates, its own, and the OIDC HMAC secret, which the controller reads from there.
  local name
  for name in envoy-gateway envoy envoy-rate-limit envoy-oidc-hmac; do
    local type=kubernetes.io/tls
    [ "$name" = envoy-oidc-hmac ] && type=Opaque
    kc create secret generic "$name" -n "$envoy_gateway_namespace" --type="$type" --from-file="$home/certs/$name" \
      --dry-run=client -o yaml | kc apply -f - >/dev/null
  done
  admin_port=$(free_port "$apiserver_port")
  cat >"$home/config.yaml" <<EOF
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyGateway
gateway: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
provider:
  type: Kubernetes
  kubernetes:
    leaderElection: {disable: true}
    proxyTopologyInjector: {disabled: true}
admin:
  address: {host: 127.0.0.1, port: $admin_port}
telemetry:
  metrics:
    prometheus: {disable: true}
EOF
  [ -d /certs ] || mkdir /certs
  # shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
  spawn envoy-gateway env KUBECONFIG="$dir/envoy-gateway.kubeconfig" ENVOY_GATEWAY_NAMESPACE="$envoy_gateway_namespace" \
    unshare --mount --propagation private sh -c 'mount --bind "$0" /certs && mount -t tmpfs tmpfs /var/lib && exec "$@"' \
    "$home/certs/envoy-gateway" "$envoy_gateway_controller" server --config-path "$home/config.yaml"
}

# The GatewayClass Envoy Gateway's install provides: cluster-wide infrastructure that every Gateway of the
# cluster names (gateway.className), not something one stack owns.
ensure_gateway_class() {
  kc apply -f - >/dev/null <<EOF
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: $gateway_class}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
EOF
}

# start_controllers: start the controllers that do not run (the CRDs must be established: both exit when
# a kind they watch is missing). Returns 1, after printing its log, when one exits right away.
start_controllers() {
  local name started=() t
  t=$(now)
  if ! pid_alive cert-manager-controller >/dev/null; then
    controller_kubeconfig cert-manager-controller cert-manager cert-manager
    # Ingress and Gateway shims watch kinds no stack uses; leader election needs no second replica.
    spawn cert-manager-controller "$cert_manager_controller" --kubeconfig="$dir/cert-manager-controller.kubeconfig" \
      --leader-elect=false --cluster-resource-namespace=cert-manager --controllers='*,-ingress-shim,-gateway-shim' \
      --metrics-listen-address=127.0.0.1:0 --internal-healthz-listen-address=127.0.0.1:0
    started+=(cert-manager-controller)
  fi
  if ! pid_alive external-secrets >/dev/null; then
    controller_kubeconfig external-secrets external-secrets external-secrets
    spawn external-secrets env KUBECONFIG="$dir/external-secrets.kubeconfig" "$external_secrets_controller" \
      --enable-leader-election=false --metrics-addr=127.0.0.1:0 --live-addr=127.0.0.1:0
    started+=(external-secrets)
  fi
  if ! pid_alive envoy-gateway >/dev/null; then
    start_envoy_gateway
    started+=(envoy-gateway)
  fi
  [ ${#started[@]} -gt 0 ] || return 0
  # They exit within a second on a bad flag, a missing CRD or an unusable kubeconfig.
  sleep 1.5
  for name in "${started[@]}"; do
    pid_alive "$name" >/dev/null || { log "$name exited; last lines of $dir/logs/$name.log:"; tail -n 25 "$dir/logs/$name.log" >&2; return 1; }
  done
  log "started ${started[*]} in $(since "$t") (logs: $dir/logs)"
}

# The demo sites' secrets provider: a namespace whose Secrets are the provider's items, read through a
# ClusterSecretStore of External Secrets' kubernetes provider. It lives here, not in a stack, because it
# stands in for something outside the project (a real site names its own store), and the store names this
# cluster's URL, which only this script knows. Items are filled by scripts/demo-secrets.sh (make up) or
# by the integration tests. Applied on every `up`, so a changed port reaches the store.
ensure_demo_secrets_store() {
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $demo_secrets_namespace}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: demo-secrets-reader, namespace: $demo_secrets_namespace}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: demo-secrets-reader, namespace: $demo_secrets_namespace}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: demo-secrets-reader, namespace: $demo_secrets_namespace}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: demo-secrets-reader}
subjects: [{kind: ServiceAccount, name: demo-secrets-reader, namespace: $demo_secrets_namespace}]
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: demo-secrets}
spec:
  provider:
    kubernetes:
      remoteNamespace: $demo_secrets_namespace
      server:
        url: $(server_url)
        caProvider: {type: ConfigMap, name: kube-root-ca.crt, key: ca.crt, namespace: $demo_secrets_namespace}
      auth:
        serviceAccount: {name: demo-secrets-reader, namespace: $demo_secrets_namespace}
EOF
}

# ---------------------------------------------------------------------------------------------------
# CRDs

crd_stamp() { { echo "$k8s_version"; printf '%s\n' "${crd_sources[@]}"; } | sha256sum | cut -c1-16; }

# The CRDs not yet Established. (`kubectl wait --for condition=established crd --all` takes ~10 s even when
# all are established, as it watches them one by one, and fails outright with "accessor error" on a CRD
# whose status has no conditions yet, so this polls instead.)
pending_crds() {
  # shellcheck disable=SC2016 # a Go template, not shell
  kc get crd -o go-template='{{range .items}}{{$s := ""}}{{range .status.conditions}}{{if eq .type "Established"}}{{$s = .status}}{{end}}{{end}}{{if ne $s "True"}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}'
}

# wait_crds SECONDS: wait until every CRD is Established.
wait_crds() {
  local deadline=$((SECONDS + $1)) pending
  while :; do
    pending=$(pending_crds) || return 1
    [ -z "$pending" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && { echo "not established: $pending"; return 1; }
    sleep 0.5
  done
}

load_crds() {
  local t src mod glob mdir f json i=0 pids=() failed=false
  t=$(now)
  local mods=()
  for src in "${crd_sources[@]}"; do mods+=("${src%% *}"); done
  # Outside any module (explicit versions work there), with the repo's GOFLAGS cleared.
  json=$(cd / && GOFLAGS='' GOWORK=off GO111MODULE=on go mod download -json "${mods[@]}") ||
    { printf '%s\n' "$json" | go_mod_errors >&2 || true; die "go mod download of the CRD modules failed"; }
  # One server-side apply per module, in parallel (the big ESO and CNPG CRDs need server-side apply).
  for src in "${crd_sources[@]}"; do
    mod=${src%% *}
    glob=${src#* }
    mdir=$(go_mod_dir "$mod" <<<"$json")
    if [ -z "$mdir" ] || [ ! -d "$mdir" ]; then die "no module dir for $mod"; fi
    local files=() pats pat
    read -ra pats <<<"$glob"
    # Only the patterns inside the module are globs; the module dir (e.g. under a HOME with a space) is literal.
    for pat in "${pats[@]}"; do
      local before=${#files[@]}
      for f in "$mdir"/$pat; do [ -f "$f" ] && files+=(-f "$f"); done
      [ ${#files[@]} -gt "$before" ] || die "no CRD files match $mod/$pat"
    done
    i=$((i + 1))
    kc apply --server-side --force-conflicts --field-manager=nautobot-cluster "${files[@]}" \
      >"$dir/logs/crds-$i.log" 2>&1 </dev/null &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { failed=true; log "applying ${crd_sources[$i]} failed:"; tail -n 20 "$dir/logs/crds-$((i + 1)).log" | cut -c1-300 >&2; }
  done
  $failed && die "applying CRDs failed"
  local applied
  applied=$(since "$t")
  wait_crds 120 >"$dir/logs/crds-wait.log" 2>&1 || { tail -n 20 "$dir/logs/crds-wait.log" | cut -c1-300 >&2; die "CRDs not established"; }
  crd_stamp >"$dir/crds.stamp"
  log "CRDs loaded ($(kc get crd --no-headers | wc -l) established) in $(since "$t") (download+apply $applied)"
}

# ---------------------------------------------------------------------------------------------------

# One up/down at a time per state dir (the daemons do not inherit this fd).
# Envoy Gateway's install namespace, where the global stack's Gateway lives, as on a real global cluster.
# Checked on every `up`, so a cluster made before this existed, or one whose namespace was deleted, has it.
ensure_namespaces() {
  kc get namespace "$envoy_gateway_namespace" >/dev/null 2>&1 || kc create namespace "$envoy_gateway_namespace" >/dev/null
}

lock_dir() {
  exec 7>"$dir/.lock"
  flock -n 7 || { log "waiting for another cluster.sh working on $dir"; flock 7; }
}

on_failed_start() {
  local rc=$?
  [ "$rc" = 0 ] && return 0
  log "up failed; stopping what it started (logs: $dir/logs)"
  stop_all
  exit "$rc"
}

# start_controllers_and_store: the controllers that do not run (built first if the cache lacks them), and
# the demo store.
start_controllers_and_store() {
  if ! controllers_running; then
    [ -n "${external_secrets_controller:-}" ] || ensure_binaries
    start_controllers || return 1
  fi
  ensure_demo_secrets_store
  ensure_gateway_class
}

cmd_up() {
  local t0
  t0=$(now)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  lock_dir
  find_kubectl
  if running && ready_within 15; then
    apiserver_port=$(server_url | sed 's/.*://')
    if [ "$(cat "$dir/crds.stamp" 2>/dev/null)" != "$(crd_stamp)" ]; then load_crds; fi
    ensure_namespaces
    # A cluster started before the controllers existed, or one whose controller died, gets them now;
    # a failure here leaves the running API server alone.
    start_controllers_and_store || exit 1
    if [ "$dir" = "$default_dir" ] && [ "$apiserver_port" != "$demo_apiserver_port" ]; then
      log "warning: this cluster listens on $apiserver_port, not $demo_apiserver_port as demo/Pulumi.global.yaml's authority.caPublicStore.serverUrl says; 'make cluster-down cluster-up' moves it"
    fi
    log "already running: $(server_url) (KUBECONFIG=$dir/kubeconfig)"
    return 0
  fi
  stop_all # a partly running cluster: restart it on the same state
  # A failed or interrupted start leaves nothing running (a caller that sees the failure has no reason
  # to call `down`); the logs stay in $dir/logs.
  trap on_failed_start EXIT
  trap 'exit 130' INT TERM HUP
  ensure_binaries
  ensure_etcd
  start_processes
  if [ "$(cat "$dir/crds.stamp" 2>/dev/null)" = "$(crd_stamp)" ] && wait_crds 60 >/dev/null 2>&1; then
    log "CRDs already loaded ($(kc get crd --no-headers | wc -l))"
  else
    load_crds
  fi
  ensure_namespaces
  pid_alive kube-controller-manager >/dev/null || fail_with_log "kube-controller-manager exited" kube-controller-manager
  start_controllers_and_store
  pid_alive kube-controller-manager >/dev/null || fail_with_log "kube-controller-manager exited" kube-controller-manager
  trap - EXIT INT TERM HUP
  log "up in $(since "$t0"): server https://127.0.0.1:$apiserver_port, context $context, KUBECONFIG=$dir/kubeconfig"
}

cmd_down() {
  local purge=false name
  [ "${1:-}" = "--purge" ] && purge=true
  [ -d "$dir" ] || { log "nothing to stop in $dir"; return 0; }
  dir=$(cd "$dir" && pwd)
  [ "$dir" = "$default_dir" ] || purge=true
  lock_dir
  stop_all
  if $purge; then
    # Remove only what `up` creates, so a CLUSTER_DIR pointing at a shared dir loses nothing else.
    rm -rf "$dir"/{etcd,serving,pids,logs} "$dir"/{kubeconfig,kubeconfig.tmp,tokens.csv,sa.key,sa.pub,ports.env,crds.stamp,.lock}
    for name in "${controllers[@]}"; do rm -f "$dir/$name.kubeconfig" "$dir/$name.kubeconfig.tmp"; done
    rm -rf "$dir/envoy-gateway"
    rmdir "$dir" 2>/dev/null || true
    log "stopped and removed $dir"
  else
    log "stopped (state kept in $dir; 'down --purge' removes it)"
  fi
}

cmd_status() {
  [ -d "$dir" ] && dir=$(cd "$dir" && pwd)
  local name pid state=0
  for name in etcd kube-apiserver kube-controller-manager "${controllers[@]}"; do
    if pid=$(pid_alive "$name" 2>/dev/null); then log "$name running (pid $pid)"; else log "$name stopped"; state=1; fi
  done
  find_kubectl
  if [ "$state" = 0 ] && ready; then
    echo "running: $(grep -m1 'server:' "$dir/kubeconfig" | awk '{print $2}') KUBECONFIG=$dir/kubeconfig"
  else
    echo "not running ($dir)"
    return 1
  fi
}

cmd_crds() {
  [ -d "$dir" ] || die "no cluster in $dir; start it with: bash scripts/cluster.sh up"
  dir=$(cd "$dir" && pwd)
  find_kubectl
  ready || die "cluster in $dir is not running"
  load_crds
}

case "${1:-}" in
  up) cmd_up ;;
  # Builds the controllers as well, so `make test-integration` does not spend its test timeout on them.
  binaries) ensure_binaries; find_kubectl; ensure_etcd ;;
  egctl) ensure_egctl ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  crds) cmd_crds ;;
  *) echo "usage: $0 up | down [--purge] | status | crds | binaries | egctl" >&2; exit 2 ;;
esac
