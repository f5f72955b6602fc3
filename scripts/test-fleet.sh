#!/usr/bin/env bash
# make test-fleet: the fleet runner (cmd/fleet) on the demo stacks against the local cluster, as a newcomer's
# `make up` runs them: up of the global stack, the demo secrets, up of the sites; then a preview of the global
# stack and every demo site that must propose no change (a converged fleet stays converged). Then interrupted
# runs: an up of site dfw1 from scratch is killed (SIGKILL to the runner, pulumi and its plugins, as a
# cancelled CI job or a closed terminal leaves it) at a quarter, half and three quarters of its duration; the
# next run must either converge, or, when the killed run left its lock, refuse and say why, and converge with
# --recover; each round ends with a no-change preview and every object the provider made in the namespace
# recorded in the state. Then a refresh of the site and an up that must change nothing. Then destroy.
# It runs on a copy of the project (the files git tracks or would add, and the demo stack files), so its
# cluster (the copy's .cluster) and state backend are its own and a developer's `make up` cluster and state
# are untouched. The demo cluster listens on a fixed port, so it refuses to run while that one is running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
log() { printf 'test-fleet: %s\n' "$*" >&2; }

if bash scripts/cluster.sh status >/dev/null 2>&1; then
  log "the local cluster of make cluster-up is running; stop it with make cluster-down first (same port)"
  exit 1
fi
work=$(mktemp -d)
project="$work/project"
stopped() { (cd "$project" && bash scripts/cluster.sh down --purge >/dev/null 2>&1) || log "stopping the cluster failed"; }
trap 'stopped; rm -rf "$work"' EXIT
mkdir -p "$project" "$work/state"
copy_project "$project"
cp Pulumi.global.yaml Pulumi.site-dfw1.yaml Pulumi.site-iad1.yaml "$project/"
# ../shared (the chart, the third-party sources) is beside the project, as beside a clone.
[ ! -e "$root/../shared" ] || ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"
export PULUMI_BACKEND_URL="file://$work/state"
go build -o "$work/fleet" ./cmd/fleet
fleet() { "$work/fleet" "$1" -C "$project" "${@:2}"; }
cd "$project"
state="$work"

bash scripts/cluster.sh up
fleet up --sites ''
bash scripts/demo-secrets.sh
fleet up --no-global
fleet preview --expect-no-changes --markdown "$state/summary.md"
stacks=$(grep -c '^| `' "$state/summary.md")
[ "$stacks" -ge 3 ] || { log "the preview summarized $stacks stack(s); want the global stack and at least 2 sites"; exit 1; }
cat "$state/summary.md"
# check_recorded NAMESPACE: every Kubernetes object the site-dfw1 state records in the namespace exists in the
# cluster (nothing lost), and every object there that Pulumi's kubernetes provider applied (a field manager of
# its own) is in the state (nothing orphaned, so nothing created twice under another name). Prints the count.
check_recorded() {
  local kinds
  pulumi stack export --stack site-dfw1 >"$state/exported.json"
  kinds=$(py3 -c '
import json, sys
kinds = {r["outputs"]["kind"].lower() + "." + r["outputs"]["apiVersion"].split("/")[0] if "/" in r["outputs"]["apiVersion"] else r["outputs"]["kind"].lower()
         for r in json.load(open(sys.argv[1]))["deployment"].get("resources", [])
         if r["type"].startswith("kubernetes:") and "kind" in (r.get("outputs") or {})}
print(",".join(sorted(kinds)))' "$state/exported.json")
  kubectl --kubeconfig .cluster/kubeconfig get "$kinds" -n "$1" --show-managed-fields -o json >"$state/objects.json"
  py3 -c '
import json, sys
ns, state, cluster = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
recorded = {(o["kind"], o["metadata"]["name"]) for r in state["deployment"].get("resources", [])
            for o in [r.get("outputs") or {}] if r["type"].startswith("kubernetes:") and (o.get("metadata") or {}).get("namespace") == ns}
items = [o for o in cluster["items"] if o["metadata"].get("namespace") == ns]
present = {(o["kind"], o["metadata"]["name"]) for o in items}
applied = {(o["kind"], o["metadata"]["name"]) for o in items
           if any(m.get("manager", "").startswith("pulumi") for m in o["metadata"].get("managedFields", []))}
lost, orphaned = sorted(recorded - present), sorted(applied - recorded)
if lost or orphaned or not recorded:
    sys.exit(f"recorded {len(recorded)}; lost (in the state, not the cluster): {lost}; orphaned (applied by Pulumi, not in the state): {orphaned}")
print(len(recorded))' "$1" "$state/exported.json" "$state/objects.json"
}
ns=nautobot-dfw1
# The kill points are a quarter, a half and three quarters of an uninterrupted up of the site from scratch,
# measured here, so they fall inside the run on a slow machine as on a fast one.
fleet destroy --no-global --sites dfw1 >/dev/null
start=$(date +%s.%N)
fleet up --no-global --sites dfw1 >/dev/null
full=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
log "an uninterrupted up of site-dfw1 from scratch took $full s"
for quarter in 1 2 3; do
  after=$(awk -v f="$full" -v q="$quarter" 'BEGIN { printf "%.1f", f * q / 4 }')
  fleet destroy --no-global --sites dfw1 >/dev/null
  log "round $after s: an up of site-dfw1, killed after $after s"
  setsid "$work/fleet" up -C "$project" --no-global --sites dfw1 >"$state/killed-$quarter.log" 2>&1 &
  pid=$!
  sleep "$after"
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  log "round $after s: the killed run's last line: $(tail -n1 "$state/killed-$quarter.log")"
  if fleet up --no-global --sites dfw1 >"$state/after-$quarter.log" 2>&1; then
    log "round $after s: the next up converged without --recover (the killed run held no lock)"
  else
    grep -qF 'no longer running (a killed or cancelled run); ' "$state/after-$quarter.log" || {
      log "round $after s: the up after a killed run failed without naming the stale lock:"; cat "$state/after-$quarter.log" >&2; exit 1; }
    log "round $after s: the next up refused: the stale lock is named; recovering"
    fleet up --no-global --sites dfw1 --recover
  fi
  fleet preview --no-global --sites dfw1 --expect-no-changes >/dev/null
  count=$(check_recorded "$ns") || { log "round $after s: the state and the cluster disagree"; exit 1; }
  log "round $after s: converged; $count objects, each in the cluster and the state, none applied outside it"
done

# A refresh reads back what the controllers wrote into the objects (the External Secrets controller rewrites
# .spec.refreshInterval as a Go duration and takes the field when the spelling differs); the up after it must
# change nothing, where a differently spelt value would be a server-side apply conflict.
fleet refresh --no-global --sites dfw1 >/dev/null
fleet up --no-global --sites dfw1 --expect-no-changes >"$state/after-refresh.log" 2>&1 || {
  log "the up after a refresh would change the site:"; cat "$state/after-refresh.log" >&2; exit 1; }
log "a refresh, then an up that changes nothing"

fleet destroy
log "ok: up, a no-change preview of $stacks stacks, interrupted ups recovered, destroy"
