#!/usr/bin/env bash
# make test-production: the README's "Going to production" walked on the local cluster. Every block the README
# marks `<!-- step: NAME -->` runs verbatim, in the README's order, on a copy of the repository (the fork),
# with the settings of step 1 chosen for a self-managed backend: a second file backend standing in for the
# remote one, fully qualified stack names (FLEET_ORG), the secrets provider set when the runner creates each
# stack, and a passphrase of the global stack's own. Between the steps it does what the README leaves to
# the operator (filling REPLACE values, writing kubeconfigs, copying the issued certificate into the
# stand-in secrets provider) and checks what each step promises.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
log() { printf 'test-production: %s\n' "$*" >&2; }
fail() { log "$*"; exit 1; }
started=$(date +%s)

work=$(mktemp -d)
fork="$work/fork"
stopped() { (cd "$fork" && bash scripts/cluster.sh down --purge >/dev/null 2>&1) || log "stopping the cluster failed"; }
trap 'stopped; rm -rf "$work"' EXIT
mkdir -p "$fork"
copy_project "$fork"
cp Pulumi.global.yaml Pulumi.site-example.yaml "$fork/"
# ../shared (the chart, the third-party sources) is beside the fork, as beside a clone.
[ ! -e "$root/../shared" ] || ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"
chart=$(cd "$root/../shared/charts" 2>/dev/null && pwd)/nautobot-3.1.1.tgz
[ -f "$chart" ] || chart=${NAUTOBOT_CHART_TGZ:?no chart: put ../shared beside the repository or set NAUTOBOT_CHART_TGZ}
cd "$fork"

# The README's step 1, for this walk: every variable it sets, set here (and named there).
unset PULUMI_CONFIG_PASSPHRASE PULUMI_ACCESS_TOKEN
export PULUMI_BACKEND_URL="file://$work/remote-state"
export FLEET_ORG=organization
export FLEET_SECRETS_PROVIDER=passphrase
export PULUMI_CONFIG_PASSPHRASE_FILE="$work/sites-passphrase"
export FLEET_GLOBAL_SECRETS_PROVIDER=passphrase
export FLEET_GLOBAL_PASSPHRASE_FILE="$work/global-passphrase"
export KUBECONFIG_DIR="$work/kubeconfigs"
for var in PULUMI_BACKEND_URL FLEET_ORG FLEET_SECRETS_PROVIDER PULUMI_CONFIG_PASSPHRASE_FILE FLEET_GLOBAL_SECRETS_PROVIDER \
  FLEET_GLOBAL_PASSPHRASE_FILE KUBECONFIG_DIR; do
  grep -q "^export $var=" README.md || fail "the README's step 1 no longer sets $var"
done
mkdir -p "$work/remote-state"
(umask 077 && openssl rand -hex 24 >"$PULUMI_CONFIG_PASSPHRASE_FILE" && openssl rand -hex 24 >"$FLEET_GLOBAL_PASSPHRASE_FILE")
state="$work/remote-state/.pulumi/stacks/nautobot-worker"

# step NAME: the README's block marked NAME, verbatim, in this shell.
step() {
  local text
  text=$(awk -v mark="<!-- step: $1 -->" '
    $0 == mark { armed = 1; next }
    armed && /^```bash$/ { inside = 1; armed = 0; next }
    inside && /^```$/ { exit }
    inside { print }' README.md)
  [ -n "$text" ] || fail "the README has no block marked step: $1"
  log "step $1"
  eval "$text"
}

bash scripts/cluster.sh up
# Step 2: a kubeconfig per stack. Both name the one local API server.
(umask 077 && mkdir -p "$KUBECONFIG_DIR" && cp .cluster/kubeconfig "$KUBECONFIG_DIR/global" && cp .cluster/kubeconfig "$KUBECONFIG_DIR/site-dfw1")

# Step 4: the file as committed names what to fill, and creates no stack.
if (step unfilled) >"$work/unfilled.log" 2>&1; then fail "a preview of the unfilled Pulumi.global.yaml succeeded"; fi
for key in gateway.domain gateway.className; do
  grep -q "config $key: still holds the placeholder REPLACE" "$work/unfilled.log" || { cat "$work/unfilled.log" >&2; fail "the unfilled preview does not name $key"; }
done
[ ! -e "$state/global.json" ] || fail "a preview created the global stack"

# What the operator fills in, and the lab's stand-ins (README, "What stands in").
server=$(sed -n 's/^ *server: //p' .cluster/kubeconfig)
sed -i -e 's/domain: REPLACE.example.com/domain: fleet.example.test/' -e 's/className: REPLACE-gatewayclass/className: eg/' Pulumi.global.yaml
grep -q '^    namespace: nautobot-ca$' Pulumi.global.yaml || fail "Pulumi.global.yaml no longer keeps the CA in its own namespace"
sed -i "s|^    namespace: nautobot-ca$|&\n    caPublicStore:\n      serverUrl: $server|" Pulumi.global.yaml
cat >>Pulumi.global.yaml <<EOF
  nautobot-worker:nautobot:
    chart:
      path: $chart
      skipSchemaValidation: true
    skipAwait: true
EOF
! grep -v '^ *#' Pulumi.global.yaml | grep -q REPLACE || fail "Pulumi.global.yaml still holds a REPLACE value"
step global
[ -s "$state/global.json" ] || fail "no global stack in the backend after its up"
grep -q '^encryptionsalt:' Pulumi.global.yaml || fail "the runner did not create the global stack with a passphrase"

step global-secrets
# The sites' passphrase cannot decrypt the global stack's secrets.
if pulumi config get djangoSecretKey --stack "$GLOBAL_STACK" >"$work/decrypt.log" 2>&1; then
  fail "the sites' passphrase decrypted the global stack's djangoSecretKey"
fi
grep -qi 'incorrect passphrase' "$work/decrypt.log" || { cat "$work/decrypt.log" >&2; fail "reading global's secret with the sites' passphrase failed otherwise"; }

# Step 6: the site's two files, then what the operator fills in.
step add-site
if [ ! -f Pulumi.site-dfw1.yaml ] || ! grep -q 'name: dfw1' Pulumi.global.yaml; then fail "add-site --write-only did not write both files"; fi
py3 - "$chart" <<'EOF'
import sys
text = open("Pulumi.site-dfw1.yaml").read()
for old, new in [
    ("name: REPLACE-store", "name: demo-secrets"),
    ("tag: REPLACE", "tag: 2.4.0"),
    ("REPLACE/", ""),
    ("      repo: https://nautobot.github.io/helm-charts/\n      name: nautobot\n      version: 3.1.2\n",
     "      path: %s\n      skipSchemaValidation: true\n" % sys.argv[1]),
    ("skipAwait: false", "skipAwait: true"),
]:
    assert old in text, old
    text = text.replace(old, new)
assert "REPLACE" not in text, text
open("Pulumi.site-dfw1.yaml", "w").write(text)
EOF

# The pull request's preview: no failure, the site waits for global, no stack created.
step pull-request >"$work/pr.log" 2>&1 || { cat "$work/pr.log" >&2; fail "the pull request's preview failed"; }
grep -qE '^site-dfw1 .*ok, waits for global' "$work/pr.log" || { cat "$work/pr.log" >&2; fail "site-dfw1 does not say it waits for global"; }
grep -q '<summary><code>site-dfw1</code>: [0-9]* create' fleet-summary.md || { cat fleet-summary.md >&2; fail "the summary lists no creates for site-dfw1"; }
[ ! -e "$state/site-dfw1.json" ] || fail "the pull request's preview created site-dfw1 in the backend"

step deploy
[ -s "$state/site-dfw1.json" ] || fail "no site-dfw1 stack in the backend after the deploy"
# The operator's copy of the issued certificate (here into the stand-in provider); then the site's secrets sync.
# External Secrets retries a failed sync with a growing backoff; an operator who has just filled the items
# asks for the sync at once, as External Secrets documents (the force-sync annotation).
bash scripts/demo-secrets.sh nautobot nautobot-ca >/dev/null
kc() { kubectl --kubeconfig .cluster/kubeconfig -n nautobot-dfw1 "$@"; }
kc annotate externalsecrets.external-secrets.io --all force-sync="$(date +%s)" --overwrite >/dev/null
kc wait --for=condition=Ready externalsecrets.external-secrets.io --all --timeout=300s || {
  kc get externalsecrets.external-secrets.io -o 'jsonpath={range .items[*]}{.metadata.name}: {.status.conditions[*].message}{"\n"}{end}' >&2
  fail "the site's secrets did not sync from the stand-in provider"
}
log "ok in $(($(date +%s) - started)) s: unfilled file named its keys, global up under its own passphrase, a site added by pull request without a stack before the merge, deployed, its secrets synced"
