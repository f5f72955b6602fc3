#!/usr/bin/env bash
# Fills the local stand-in secrets provider (namespace demo-secrets-provider, read by the ClusterSecretStore
# demo-secrets that scripts/cluster.sh creates) with the items the demo site stacks read. `make up` runs it
# between the global stack and the sites: it is the seed's manual step of copying each site's issued client
# certificate and the CA certificate into the provider, done here from the certificates cert-manager really
# issued in the global namespace.
#
#   bash scripts/demo-secrets.sh [GLOBAL_NAMESPACE [CA_NAMESPACE]]   (default nautobot, and GLOBAL_NAMESPACE)
#   CA_NAMESPACE is the global stack's authority.namespace, where the Certificates are; their Secrets are read
#   in GLOBAL_NAMESPACE, where an operator reads them (delivered there when the CA is apart).
#
# Items (one Secret each; its keys are the item's fields):
#   nautobot-django, nautobot-db, nautobot-redis, ghcr-pull-secret, nautobot-custom-env
#       random demo values, made once and kept (a real provider holds the global instance's values)
#   nautobot-mtls-client-<site>   for every Certificate nautobot-mtls-client-<site>: `password` = certificate
#       and key concatenated (the seed's shape, Pulumi.site-dfw1.yaml), `tls.crt` and `tls.key` separately
#       (Pulumi.site-iad1.yaml); refreshed on every run, so a renewal reaches the provider
#   nautobot-mtls-ca              `password` and `ca.crt`: ca.crt of the global ca.crt-only secret
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
global_ns=${1:-nautobot}
ca_ns=${2:-$global_ns}
provider_ns=demo-secrets-provider
export KUBECONFIG="${CLUSTER_DIR:-$root/.cluster}/kubeconfig"
[ -s "$KUBECONFIG" ] || { echo "demo-secrets: no cluster ($KUBECONFIG); run make cluster-up first" >&2; exit 1; }
log() { printf 'demo-secrets: %s\n' "$*" >&2; }
kc() { kubectl "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

kc get namespace "$provider_ns" >/dev/null || { log "namespace $provider_ns is missing; run make cluster-up"; exit 1; }

# item NAME KEY=FILE...: create or replace one item.
item() {
  local name=$1 args=()
  shift
  for kv in "$@"; do args+=(--from-file="$kv"); done
  kc -n "$provider_ns" create secret generic "$name" "${args[@]}" --dry-run=client -o yaml |
    kc apply --server-side --field-manager=demo-secrets --force-conflicts -f - >/dev/null
}

random() { openssl rand -hex 24 | tr -d '\n' >"$work/$1"; }

if ! kc -n "$provider_ns" get secret nautobot-django >/dev/null 2>&1; then
  random django && item nautobot-django password="$work/django"
  printf app >"$work/user" && random db && item nautobot-db username="$work/user" password="$work/db"
  random redis && item nautobot-redis password="$work/redis"
  printf '{"auths":{"ghcr.io":{"auth":"%s"}}}' "$(printf 'demo:%s' "$(openssl rand -hex 12)" | base64 -w0)" >"$work/docker"
  item ghcr-pull-secret password="$work/docker"
  printf info >"$work/loglevel" && printf demo >"$work/env"
  item nautobot-custom-env NAUTOBOT_LOG_LEVEL="$work/loglevel" DEMO_ENVIRONMENT="$work/env"
  log "created the demo credentials items"
fi

# The certificates are issued by cert-manager and the ca.crt-only secret by External Secrets, a few
# seconds after `pulumi up` of the global stack.
deadline=$((SECONDS + 120))
clients() {
  local names
  mapfile -t names < <(kc -n "$ca_ns" get certificates.cert-manager.io -o 'jsonpath={range .items[*]}{.spec.secretName}{"\n"}{end}' | grep '^nautobot-mtls-client-')
  printf '%s\n' mtls-ca-cert "${names[@]}"
}
until kc -n "$ca_ns" wait --for=condition=Ready certificates.cert-manager.io --all --timeout=5s >/dev/null 2>&1 &&
  clients | xargs kubectl -n "$global_ns" get secret >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "certificates in $ca_ns not all Ready, or mtls-ca-cert or a client certificate's Secret missing in $global_ns, after 120 s:"
    kc -n "$ca_ns" get certificates.cert-manager.io,externalsecrets.external-secrets.io,pushsecrets.external-secrets.io >&2 || true
    exit 1
  fi
  sleep 1
done

secret_key() { kc -n "$global_ns" get secret "$1" -o "go-template={{index .data \"$2\" | base64decode}}"; }

secret_key mtls-ca-cert ca.crt >"$work/ca.crt"
item nautobot-mtls-ca password="$work/ca.crt" ca.crt="$work/ca.crt"
sites=()
for cert in $(kc -n "$ca_ns" get certificates.cert-manager.io -o name | sed -n 's|.*/\(nautobot-mtls-client-.*\)|\1|p'); do
  secret=$(kc -n "$ca_ns" get certificates.cert-manager.io "$cert" -o 'jsonpath={.spec.secretName}')
  secret_key "$secret" tls.crt >"$work/tls.crt"
  secret_key "$secret" tls.key >"$work/tls.key"
  cat "$work/tls.crt" "$work/tls.key" >"$work/password"
  item "$cert" password="$work/password" tls.crt="$work/tls.crt" tls.key="$work/tls.key"
  sites+=("${cert#nautobot-mtls-client-}")
done
log "copied the issued client certificates of ${sites[*]:-no site} and the CA certificate into $provider_ns"
