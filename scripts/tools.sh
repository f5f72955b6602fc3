#!/usr/bin/env bash
# Builds the pinned Pulumi toolchain from the Go module proxy (no other download is possible here),
# caches it outside the clone by a version stamp, and links it into .tools/bin.
#
#   pulumi                      v3.274.1  (tools/pulumi-cli)
#   pulumi-language-go          sdk v3.62.0, the last SDK that ships the Go language host (tools/language-go)
#   pulumi-resource-kubernetes  v4.25.0, the only provider build the proxy serves (tools/kubernetes-provider)
#
# A `pulumi` already on PATH (outside .tools) with its Go language host beside it is used instead of
# building the CLI; the kubernetes provider is always the pinned one so the SDK in go.mod matches it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cli_version=v3.274.1
k8s_version=4.25.0
bin="$root/.tools/bin"
pulumi_home="${PULUMI_HOME:-$root/.tools/pulumi-home}"
cache_root="${NAUTOBOT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nautobot-worker-pulumi}"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

log() { printf 'tools: %s\n' "$*" >&2; }

stamp=$( { go version; cat "$0"; cat "$root"/tools/{pulumi-cli,language-go,kubernetes-provider}/go.{mod,sum}; } | sha256sum | cut -c1-16)
cache="$cache_root/$stamp"
mkdir -p "$bin" "$cache_root"

export GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 GOTOOLCHAIN=local
release_flags=(-trimpath -tags "osusergo,grpcnotrace")

build_cli() {
  log "building pulumi $cli_version (cold: ~4 min)"
  (cd "$root/tools/pulumi-cli" && go build "${release_flags[@]}" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$cli_version" \
    -o "$cache/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$cache/pulumi.tmp" "$cache/pulumi"
}

build_language_host() {
  log "building pulumi-language-go (cold: ~40 s)"
  (cd "$root/tools/language-go" && go build "${release_flags[@]}" -ldflags "-s -w" \
    -o "$cache/pulumi-language-go.tmp" github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go)
  mv "$cache/pulumi-language-go.tmp" "$cache/pulumi-language-go"
}

build_kubernetes_provider() {
  log "building pulumi-resource-kubernetes $k8s_version (cold: ~7 min)"
  local mod_dir work
  mod_dir=$(cd "$root/tools/kubernetes-provider" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)
  if [ -z "$mod_dir" ] || [ ! -d "$mod_dir" ]; then
    (cd "$root/tools/kubernetes-provider" && go mod download github.com/pulumi/pulumi-kubernetes/provider/v4)
    mod_dir=$(cd "$root/tools/kubernetes-provider" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)
  fi
  # The main package embeds schema-embed.json and terraform-mapping-embed.json, which upstream generates
  # at release time; they are not in the module zip.
  work="$root/tools/kubernetes-provider/cmd/pulumi-resource-kubernetes"
  rm -rf "$work" && mkdir -p "$work"
  cp "$mod_dir"/cmd/pulumi-resource-kubernetes/{main.go,generate.go,schema.json,terraform-mapping.json} "$work/"
  chmod u+w "$work"/*
  (cd "$work" && VERSION="$k8s_version" go run generate.go && rm schema.json terraform-mapping.json)
  (cd "$root/tools/kubernetes-provider" && go build "${release_flags[@]}" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$k8s_version" \
    -o "$cache/pulumi-resource-kubernetes.tmp" ./cmd/pulumi-resource-kubernetes)
  mv "$cache/pulumi-resource-kubernetes.tmp" "$cache/pulumi-resource-kubernetes"
}

system_pulumi() {
  local p dir version
  p=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$bin" | paste -sd:) command -v pulumi 2>/dev/null) || return 1
  dir=$(dirname "$(readlink -f "$p")")
  [ -x "$dir/pulumi-language-go" ] || return 1
  version=$("$p" version 2>/dev/null) || return 1
  [[ $version =~ ^v3\.(1[5-9][0-9]|[2-9][0-9]{2})\. ]] || return 1
  printf '%s\n' "$p"
}

# build_missing NAME...: build the cached binaries that are not there yet. The check is repeated under the
# lock, so a run that waited for another one's build reuses it instead of writing the same files again.
build_missing() {
  local name missing=()
  for name in "$@"; do [ -x "$cache/$name" ] || missing+=("$name"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  build_lock "$cache_root"
  mkdir -p "$cache"
  for name in "${missing[@]}"; do
    [ -x "$cache/$name" ] && continue
    case "$name" in
      pulumi) build_cli ;;
      pulumi-language-go) build_language_host ;;
      pulumi-resource-kubernetes) build_kubernetes_provider ;;
    esac
  done
  build_unlock
}

mkdir -p "$cache"
if sys=$(system_pulumi); then
  log "using $sys ($("$sys" version)) from PATH"
  ln -sfn "$sys" "$bin/pulumi"
  rm -f "$bin/pulumi-language-go"
  build_missing pulumi-resource-kubernetes
else
  build_missing pulumi pulumi-language-go pulumi-resource-kubernetes
  # The CLI finds its language host beside its own (symlink-resolved) executable.
  ln -sfn "$cache/pulumi" "$bin/pulumi"
  ln -sfn "$cache/pulumi-language-go" "$bin/pulumi-language-go"
fi
ln -sfn "$cache/pulumi-resource-kubernetes" "$bin/pulumi-resource-kubernetes"

# Install the provider into the project-local plugin cache so Pulumi.yaml stays free of local paths and
# a user with a normal Pulumi install runs the same project unchanged.
if [ ! -x "$pulumi_home/plugins/resource-kubernetes-v$k8s_version/pulumi-resource-kubernetes" ]; then
  PULUMI_HOME="$pulumi_home" PULUMI_SKIP_UPDATE_CHECK=true \
    "$bin/pulumi" plugin install resource kubernetes "v$k8s_version" --file "$cache/pulumi-resource-kubernetes" >&2
fi
log "ready: $("$bin/pulumi" version), kubernetes provider v$k8s_version, PULUMI_HOME=$pulumi_home"
