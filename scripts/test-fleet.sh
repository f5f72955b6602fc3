#!/usr/bin/env bash
# make test-fleet: the fleet runner (cmd/fleet) with real pulumi runs on the demo stacks against a local cluster
# of its own, for what a user's ordinary mishaps do to Pulumi state (README, "State safety"):
#   1. a newcomer's `make up` (global, the demo secrets, the sites), then a preview that proposes no change;
#   2. interrupted runs: an up of site dfw1 from scratch killed (SIGKILL to every process of its session, as a
#      cancelled CI job or a closed terminal leaves it) at points taken from the run's own output, never from
#      wall time: before pulumi takes the lock, at the first object, among the ExternalSecrets, in the chart,
#      at the last object, between an object's creation and its record (an admission webhook holds the
#      create until the engine is stopped, then lets it into the cluster), and after the last write; each must converge (with --recover where the killed run
#      left its lock), then propose no change, with every object the provider applied recorded, under the
#      stack's one field manager; then an attribute file a kill left empty is repaired by --recover;
#   3. recovery never hurts a live run: a live plain `pulumi` run, a live fleet run in another pid namespace,
#      and two concurrent --recover runs each keep what they hold;
#   4. an interrupt (SIGINT) while the cluster answers no request for longer than the SDK's 10 s grace lets
#      pulumi finish and release its lock: no stale lock, nothing pending, the next up needs no --recover;
#   5. an unreachable cluster: refresh and up of global and a site fail and the state keeps every resource;
#      back up, nothing to change; then a site whose cluster is gone is retired with kubernetes.deleteUnreachable;
#   6. partial failures: a killed add-site --preview changes no file; a destroy whose site fails keeps global.
# It runs on a copy of the repository (the files git tracks or would add) and its demo project, so its
# cluster (the copy's .cluster) and state backend are its own and a developer's `make up` cluster and state
# are untouched. The demo cluster listens on a fixed port, so it refuses to run while that one is running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
log() { printf 'test-fleet: %s\n' "$*" >&2; }
started=$(date +%s)

if bash scripts/cluster.sh status >/dev/null 2>&1; then
  log "the local cluster of make cluster-up is running; stop it with make cluster-down first (same port)"
  exit 1
fi
work=$(mktemp -d)
project="$work/project"
stopped() {
  [ -z "${run_pid:-}" ] || pkill -KILL -s "$run_pid" 2>/dev/null || true
  [ -z "${held_pid:-}" ] || kill -KILL "$held_pid" 2>/dev/null || true
  (cd "$project" && bash scripts/cluster.sh down --purge >/dev/null 2>&1) || log "stopping the cluster failed"
}
trap 'stopped; rm -rf "$work"' EXIT
mkdir -p "$project" "$work/state"
copy_project "$project"
demo="$project/demo"
# ../shared (the chart, the third-party sources) is beside the project, as beside a clone.
[ ! -e "$root/../shared" ] || ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"
export PULUMI_BACKEND_URL="file://$work/state"
go build -o "$work/fleet" ./cmd/fleet
fleet() { "$work/fleet" "$1" -C "$demo" "${@:2}"; }
cd "$demo"
state="$work"
ns=nautobot-dfw1
locks="$work/state/.pulumi/locks/organization/nautobot-worker"
kc() { kubectl --kubeconfig "$project/.cluster/kubeconfig" "$@"; }
state_py() { py3 "$project/tests/fleet/state.py" "$@"; }
export_state() { pulumi stack export --stack "$1" --file "$2"; }

bash "$project/scripts/cluster.sh" up
fleet up --sites ''
bash "$project/scripts/demo-secrets.sh"
fleet up --no-global
fleet preview --expect-no-changes --markdown "$state/summary.md"
stacks=$(grep -c '^| `' "$state/summary.md")
[ "$stacks" -ge 3 ] || { log "the preview summarized $stacks stack(s); want the global stack and at least 2 sites"; exit 1; }
cat "$state/summary.md"

# check_recorded: every object the site-dfw1 state records in its namespace exists in the cluster (nothing
# lost), every object there that Pulumi applied is in the state (nothing orphaned, so nothing created twice
# under another name), and all of them were applied by the stack's one field manager. Prints the count.
check_recorded() {
  export_state site-dfw1 "$state/exported.json"
  kc get "$(state_py kinds "$state/exported.json")" -n "$ns" --show-managed-fields -o json >"$state/objects.json"
  state_py recorded "$ns" "$state/exported.json" "$state/objects.json" pulumi-nautobot-worker-site-dfw1
}

# start_up LOG [VAR=VALUE...]: an up of site dfw1 in a session of its own (so every process it starts can be
# killed together), its output in LOG; run_pid is the runner, which leads the session.
start_up() {
  local out=$1
  shift
  env "$@" setsid "$work/fleet" up -C "$demo" --no-global --sites dfw1 >"$out" 2>&1 &
  run_pid=$!
}

# wait_for LOG PATTERN [N [-F]]: until LOG has N lines matching PATTERN (an extended regex, or with -F a
# fixed string); fails if the run ends first. Bounded (10 min), so a test that goes wrong stops by itself.
wait_for() {
  local out=$1 pattern=$2 n=${3:-1} mode=${4:--E} i
  for ((i = 0; i < 6000; i++)); do
    [ "$(grep -c "$mode" -- "$pattern" "$out" || true)" -ge "$n" ] && return 0
    if ! kill -0 "$run_pid" 2>/dev/null; then
      [ "$(grep -c "$mode" -- "$pattern" "$out" || true)" -ge "$n" ] && return 0
      log "the run ended before line $n matching /$pattern/:"
      cat "$out" >&2
      return 1
    fi
    sleep 0.1
  done
  log "no line $n matching /$pattern/ in 10 min"
  return 1
}

# wait_exit PID: wait for a background process, bounded (10 min), so a run that hangs fails the test.
wait_exit() {
  local i
  for ((i = 0; i < 6000; i++)); do
    kill -0 "$1" 2>/dev/null || { wait "$1"; return; }
    sleep 0.1
  done
  log "pid $1 still running after 10 min"
  return 1
}

kill_run() {
  pkill -KILL -s "$run_pid" 2>/dev/null || true
  wait "$run_pid" 2>/dev/null || true
  run_pid=
}

# converge ROUND: the next up converges, or refuses naming what the killed run left and converges with
# --recover; then it proposes no change and the state and the cluster agree.
converge() {
  local round=$1 count
  if fleet up --no-global --sites dfw1 >"$state/after-$round.log" 2>&1; then
    log "$round: the next up converged without --recover"
  else
    grep -qE 'no longer running \(a killed or cancelled run\); |unreadable attribute file' "$state/after-$round.log" || {
      log "$round: the up after a killed run failed without naming what the kill left:"
      cat "$state/after-$round.log" >&2
      exit 1
    }
    log "$round: the next up refused, naming what the kill left; recovering"
    fleet up --no-global --sites dfw1 --recover >"$state/recover-$round.log" 2>&1 || {
      log "$round: the up with --recover failed:"
      cat "$state/recover-$round.log" >&2
      exit 1
    }
    grep -E '^\[site-dfw1\] (removing|importing|clearing)|^fleet: removed' "$state/recover-$round.log" >&2 || true
  fi
  fleet preview --no-global --sites dfw1 --expect-no-changes >"$state/preview-$round.log" 2>&1 || {
    log "$round: the preview after recovery proposes changes:"
    cat "$state/preview-$round.log" >&2
    exit 1
  }
  count=$(check_recorded) || { log "$round: the state and the cluster disagree"; exit 1; }
  log "$round: converged; $count objects, each in the cluster and the state, none applied outside it"
}

# ---------------------------------------------------------------------------------------------------
# 2. Interrupted runs, killed at points the run's own output marks.
creating=' creating \('
fleet destroy --no-global --sites dfw1 >/dev/null
start_up "$state/full.log"
wait_exit "$run_pid" || { log "an uninterrupted up of site-dfw1 failed:"; cat "$state/full.log" >&2; exit 1; }
run_pid=
# A resource's creating line repeats while it is created: count each resource once, in the order they start.
grep -E -- "$creating" "$state/full.log" | sed 's/ creating (.*//' | awk '!seen[$0]++' >"$state/created"
objects=$(wc -l <"$state/created")
externalsecrets=$(grep -c 'ExternalSecret ' "$state/created" || true)
if [ "$objects" -lt 10 ] || [ "$externalsecrets" -lt 3 ] || ! grep -qE -- "Deployment .*$creating" "$state/full.log"; then
  log "an up of site-dfw1 from scratch printed $objects creating lines ($externalsecrets ExternalSecrets); want 10 or more, 3 ExternalSecrets and a Deployment:"
  cat "$state/full.log" >&2
  exit 1
fi
grep -qE '^\[site-dfw1\] Duration: ' "$state/full.log" || { log "no Duration line in the up's output"; exit 1; }
log "an up of site-dfw1 from scratch creates $objects objects ($externalsecrets ExternalSecrets)"

# Before the lock: a stand-in pulumi in front of the real one holds the run when it is asked for `up`.
real_pulumi=$(command -v pulumi)
mkdir -p "$work/shim"
cat >"$work/shim/pulumi" <<EOF
#!/usr/bin/env bash
# test-fleet: an \`up\` writes the marker and waits to be killed; everything else is the real pulumi.
for a; do case \$a in up) : >"\$FLEET_TEST_HOLD_UP"; exec sleep 600 ;; -*) ;; *) break ;; esac; done
exec "$real_pulumi" "\$@"
EOF
chmod +x "$work/shim/pulumi"
fleet destroy --no-global --sites dfw1 >/dev/null
start_up "$state/killed-before-lock.log" PATH="$work/shim:$PATH" FLEET_TEST_HOLD_UP="$work/hold"
until [ -e "$work/hold" ]; do kill -0 "$run_pid" 2>/dev/null || { cat "$state/killed-before-lock.log" >&2; exit 1; }; sleep 0.1; done
kill_run
[ -z "$(ls -A "$locks/site-dfw1" 2>/dev/null)" ] || { log "before-lock: a lock exists, the kill was not before the lock"; exit 1; }
converge before-lock

# created FILTER N: the first creating line of the Nth resource whose line has FILTER, as a fixed string.
created() { printf '%s creating (' "$(grep -F -- "$1" "$state/created" | sed -n "$2p")"; }

# kill_at ROUND TEXT: an up from scratch, killed once its output has a line with TEXT (a fixed string).
kill_at() {
  fleet destroy --no-global --sites dfw1 >/dev/null
  start_up "$state/killed-$1.log"
  wait_for "$state/killed-$1.log" "$2" 1 -F
  kill_run
  log "$1: killed after: $(grep -F -m1 -- "$2" "$state/killed-$1.log")"
  converge "$1"
}
kill_at first-object "$(created ' ' 1)"
kill_at externalsecrets "$(created 'ExternalSecret ' $(((externalsecrets + 1) / 2)))"
kill_at chart "$(created ' worker:' 1)"
kill_at last-object "$(created ' ' "$objects")"
kill_at after-last-write '[site-dfw1] Duration: '

# Between create and record: an admission webhook holds the site's ExternalSecret creations. The engine writes
# a pending create to the state before it asks the provider, so when the first create reaches the webhook the
# state has it pending; the engine is then stopped (SIGSTOP) and the creation released: the object reaches the
# cluster and the stopped engine cannot record it. The kill comes once the cluster has it.
# The state is read from the backend's checkpoint file itself: `pulumi stack export` reads the attribute file
# beside it too, which the engine writes in place, and a stopped engine may have stopped in that write.
checkpoint="$work/state/.pulumi/stacks/nautobot-worker/site-dfw1.json"
hold="$work/hold-webhook"
mkdir -p "$hold"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=test-fleet-hold \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$hold/key.pem" -out "$hold/cert.pem" 2>/dev/null
py3 "$project/tests/fleet/hold_webhook.py" "$hold" &
held_pid=$!
for ((i = 0; i < 600; i++)); do [ -s "$hold/port" ] && break; sleep 0.1; done
[ -s "$hold/port" ] || { log "unrecorded: the hold webhook did not start"; exit 1; }
fleet destroy --no-global --sites dfw1 >/dev/null
# failurePolicy Ignore: should the test stall past the API server's timeout, the create goes on unheld and the
# check below fails naming it, rather than the create being refused.
kc apply -f - >/dev/null <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: test-fleet-hold}
webhooks:
  - name: hold.test-fleet.invalid
    clientConfig:
      url: https://127.0.0.1:$(cat "$hold/port")/hold
      caBundle: $(base64 -w0 <"$hold/cert.pem")
    rules:
      - {apiGroups: [external-secrets.io], apiVersions: ["*"], operations: [CREATE], resources: [externalsecrets]}
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: $ns}}
    failurePolicy: Ignore
    sideEffects: None
    admissionReviewVersions: [v1]
    timeoutSeconds: 30
EOF
start_up "$state/killed-unrecorded.log"
for ((i = 0; i < 6000; i++)); do
  [ -s "$hold/held" ] && break
  kill -0 "$run_pid" 2>/dev/null || { tail -20 "$state/killed-unrecorded.log" >&2; log "unrecorded: the run ended before creating an ExternalSecret"; exit 1; }
  sleep 0.1
done
[ -s "$hold/held" ] || { log "unrecorded: no ExternalSecret creation reached the webhook in 10 min"; exit 1; }
[ "$(state_py pending "$checkpoint")" -gt 0 ] || { log "unrecorded: a create reached the API server with no pending operation in the state"; exit 1; }
engine=$(pgrep -s "$run_pid" -x pulumi) || { tail -20 "$state/killed-unrecorded.log" >&2; log "unrecorded: no pulumi process in the run"; exit 1; }
kill -STOP "$engine"
cp "$checkpoint" "$state/exported.json" # what the stopped engine recorded
: >"$hold/release"
caught=
for ((i = 0; i < 600; i++)); do
  kc get externalsecret.external-secrets.io -n "$ns" --show-managed-fields -o json >"$state/objects.json"
  if missing=$(state_py unrecorded "$ns" "$state/exported.json" "$state/objects.json"); then caught=$missing; break; fi
  sleep 0.1
done
kill_run
kc delete validatingwebhookconfiguration test-fleet-hold >/dev/null
kill "$held_pid" 2>/dev/null || true
wait "$held_pid" 2>/dev/null || true
held_pid=
[ -n "$caught" ] || { log "unrecorded: the held creation ($(paste -sd, "$hold/held")) did not reach the cluster"; exit 1; }
log "unrecorded: killed with $caught in the cluster and not in the state"
converge unrecorded

# An attribute file the backend writes in place, as a kill between its create and its write leaves it.
attrs="$work/state/.pulumi/stacks/nautobot-worker/site-dfw1.json.attrs"
[ -s "$attrs" ] || { log "no attribute file $attrs"; exit 1; }
: >"$attrs"
fleet up --no-global --sites dfw1 >"$state/attrs.log" 2>&1 && { log "an up read a backend with an empty attribute file"; exit 1; }
grep -qF 'unreadable attribute file(s) a killed run left' "$state/attrs.log" || { cat "$state/attrs.log" >&2; exit 1; }
converge attributes

# A refresh reads back what the controllers wrote into the objects (the External Secrets controller rewrites
# .spec.refreshInterval as a Go duration and takes the field when the spelling differs); the up after it must
# change nothing, where a differently spelt value would be a server-side apply conflict.
fleet refresh --no-global --sites dfw1 >/dev/null
fleet up --no-global --sites dfw1 --expect-no-changes >"$state/after-refresh.log" 2>&1 || {
  log "the up after a refresh would change the site:"; cat "$state/after-refresh.log" >&2; exit 1; }
log "a refresh, then an up that changes nothing"

# ---------------------------------------------------------------------------------------------------
# 3. Recovery never removes a live run's lock.
lock_count() { find "$locks/site-dfw1" -name '*.json' 2>/dev/null | wc -l; }
# A plain pulumi run, which holds no fleet lease: judged by host, boot, pid and its start time. The API
# server is stopped (SIGSTOP) first, so the refresh holds its lock until the server continues.
apiserver=$(cat "$project/.cluster/pids/kube-apiserver.pid")
kill -STOP "$apiserver"
pulumi refresh --yes --stack site-dfw1 --non-interactive >"$state/live-refresh.log" 2>&1 &
held_pid=$!
until [ "$(lock_count)" -ge 1 ]; do kill -0 "$held_pid" || { kill -CONT "$apiserver"; cat "$state/live-refresh.log" >&2; exit 1; }; sleep 0.05; done
if timeout 600 "$work/fleet" up -C "$demo" --no-global --sites dfw1 --recover >"$state/live-1.log" 2>&1; then
  kill -CONT "$apiserver"
  log "a --recover ran over a live pulumi run"
  exit 1
fi
kill -CONT "$apiserver"
grep -qF 'locked by a run that may still be going' "$state/live-1.log" || { cat "$state/live-1.log" >&2; exit 1; }
wait_exit "$held_pid" || { cat "$state/live-refresh.log" >&2; exit 1; }
held_pid=
grep -qE 'Resources:' "$state/live-refresh.log" || { log "the live refresh did not finish"; cat "$state/live-refresh.log" >&2; exit 1; }
log "live plain pulumi run on this host: --recover refused, its lock kept"

# A fleet run in another pid namespace under the same hostname: its pid means nothing here; its lease does.
fleet destroy --no-global --sites dfw1 >/dev/null
setsid unshare --pid --fork --mount-proc "$work/fleet" up -C "$demo" --no-global --sites dfw1 >"$state/live-ns.log" 2>&1 &
run_pid=$!
wait_for "$state/live-ns.log" "$creating" 1
engine=$(pgrep -s "$run_pid" -x pulumi)
kill -STOP "$engine"
if timeout 600 "$work/fleet" up -C "$demo" --no-global --sites dfw1 --recover >"$state/live-2.log" 2>&1; then
  log "a --recover ran over a live fleet run in another pid namespace"
  exit 1
fi
grep -qF 'another fleet run is working on this stack' "$state/live-2.log" || { cat "$state/live-2.log" >&2; exit 1; }
[ "$(lock_count)" -eq 1 ] || { log "the live run's lock was removed"; exit 1; }
kill -CONT "$engine"
wait_exit "$run_pid" || { cat "$state/live-ns.log" >&2; exit 1; }
run_pid=
log "live fleet run in another pid namespace: --recover refused, its lock kept"

# Two recoveries at once after a kill: one recovers and runs, the other is refused; nothing is left locked.
fleet destroy --no-global --sites dfw1 >/dev/null
start_up "$state/killed-twice.log"
wait_for "$state/killed-twice.log" "$creating" 3
kill_run
fleet up --no-global --sites dfw1 --recover >"$state/recover-a.log" 2>&1 &
a=$!
fleet up --no-global --sites dfw1 --recover >"$state/recover-b.log" 2>&1 &
b=$!
ok=0
wait_exit "$a" && ok=$((ok + 1))
wait_exit "$b" && ok=$((ok + 1))
refused=$(cat "$state/recover-a.log" "$state/recover-b.log" | grep -cF 'another fleet run is working on this stack' || true)
# Both may succeed when one had finished before the other took the lease; never may both fail.
if [ "$ok" -lt 1 ] || [ $((ok + refused)) -ne 2 ]; then
  log "two --recover runs: $ok succeeded, $refused refused"
  cat "$state"/recover-[ab].log >&2
  exit 1
fi
[ "$(lock_count)" -eq 0 ] || { log "a lock is left"; exit 1; }
converge concurrent-recover
log "two concurrent --recover runs: $ok ran, $refused refused, no lock left"

# ---------------------------------------------------------------------------------------------------
# 4. SIGINT while an operation waits longer than the SDK's 10 s before it kills pulumi: the API server is
# stopped (SIGSTOP) so the create in flight waits, the runner is interrupted, and the server continues 15 s
# later. pulumi must finish that step and release its lock.
fleet destroy --no-global --sites dfw1 >/dev/null
start_up "$state/interrupted.log"
wait_for "$state/interrupted.log" "$creating" 3
kill -STOP "$apiserver"
kill -INT "$run_pid"
sleep 15
kill -CONT "$apiserver"
wait_exit "$run_pid" || true
run_pid=
grep -qE '^site-dfw1 .* interrupted: ' "$state/interrupted.log" || {
  log "an interrupted up: the summary does not report site-dfw1 interrupted:"; cat "$state/interrupted.log" >&2; exit 1; }
[ "$(lock_count)" -eq 0 ] || { log "an interrupted up left its lock:"; cat "$state/interrupted.log" >&2; exit 1; }
export_state site-dfw1 "$state/exported.json"
[ "$(state_py pending "$state/exported.json")" -eq 0 ] || { log "an interrupted up left pending operations"; exit 1; }
fleet up --no-global --sites dfw1 >"$state/after-interrupt.log" 2>&1 || { log "the up after an interrupt failed:"; cat "$state/after-interrupt.log" >&2; exit 1; }
converge interrupted
log "SIGINT with the cluster silent for 15 s: no lock, nothing pending, the next up needed no --recover"

# ---------------------------------------------------------------------------------------------------
# 5. An unreachable cluster never costs state.
inventory() { for s in global site-dfw1; do export_state "$s" "$state/inv.json"; state_py inventory "$state/inv.json"; done; }
inventory >"$state/inventory-before"
kill -TERM "$(cat "$project/.cluster/pids/kube-apiserver.pid")"
while kc get --raw=/readyz --request-timeout=1s >/dev/null 2>&1; do sleep 0.2; done
for run in "refresh --sites dfw1" "up --sites dfw1" "up --no-global --sites dfw1"; do
  out="$state/unreachable-${run// /-}.log"
  # shellcheck disable=SC2086 # the words of $run are the arguments
  if fleet $run >"$out" 2>&1; then log "$run with the cluster unreachable succeeded"; exit 1; fi
  grep -qE 'unreachable|connection refused' "$out" || { cat "$out" >&2; exit 1; }
done
inventory >"$state/inventory-after"
diff "$state/inventory-before" "$state/inventory-after" || { log "the state changed while the cluster was unreachable"; exit 1; }
log "unreachable cluster: refresh and up of global and site-dfw1 failed, $(wc -l <"$state/inventory-after") resources kept as they were"
bash "$project/scripts/cluster.sh" up >/dev/null
fleet preview --sites dfw1 --expect-no-changes >"$state/after-outage.log" 2>&1 || { cat "$state/after-outage.log" >&2; exit 1; }
log "the cluster back: nothing to change"

# Retiring a site whose cluster is gone: its stack file opts in, a refresh drops what the cluster held, a
# destroy ends the stack. The objects stay in the (here, living) cluster; an up adopts them again.
cp Pulumi.site-dfw1.yaml "$state/site-dfw1.yaml"
py3 - <<'EOF'
import re
text = open("Pulumi.site-dfw1.yaml").read()
text = text.replace("    kubeconfig: .cluster/kubeconfig\n", "    kubeconfig: .cluster/kubeconfig\n    deleteUnreachable: true\n", 1)
open("Pulumi.site-dfw1.yaml", "w").write(text)
EOF
grep -q 'deleteUnreachable: true' Pulumi.site-dfw1.yaml
kill -TERM "$(cat "$project/.cluster/pids/kube-apiserver.pid")"
while kc get --raw=/readyz --request-timeout=1s >/dev/null 2>&1; do sleep 0.2; done
fleet refresh --no-global --sites dfw1 >"$state/retire-refresh.log" 2>&1 || { cat "$state/retire-refresh.log" >&2; exit 1; }
fleet destroy --no-global --sites dfw1 >"$state/retire-destroy.log" 2>&1 || { cat "$state/retire-destroy.log" >&2; exit 1; }
export_state site-dfw1 "$state/exported.json"
left=$(state_py inventory "$state/exported.json" | grep -c ':kubernetes:' || true)
[ "$left" -eq 0 ] || { log "retired site: $left Kubernetes resources left in the state"; exit 1; }
log "a site whose cluster is gone, retired with kubernetes.deleteUnreachable: its state holds no object"
cp "$state/site-dfw1.yaml" Pulumi.site-dfw1.yaml
bash "$project/scripts/cluster.sh" up >/dev/null
converge adopted-after-retirement

# ---------------------------------------------------------------------------------------------------
# 6. Partial failures. A killed add-site --preview changes no file.
sums() { sha256sum Pulumi.*.yaml; }
sums >"$state/sums-before"
env setsid "$work/fleet" add-site -C "$demo" lon9 --egress-cidr 10.90.0.0/16 --template Pulumi.site-dfw1.yaml \
  --namespace nautobot-lon9 --preview >"$state/add-site.log" 2>&1 &
run_pid=$!
wait_for "$state/add-site.log" 'previewing the global stack' 1
kill_run
sums | diff "$state/sums-before" - || { log "a killed add-site --preview changed files"; exit 1; }
log "a killed add-site --preview left every file as it was"

# ---------------------------------------------------------------------------------------------------
# 7. A site added by pull request: add-site --write-only writes the two files and runs nothing; the pull
# request's preview shows the global stack's change and the new site's whole plan, previewed in a sandbox
# (no stack is created in the backend), without failing because the site waits for global; the deploy
# after the merge runs global, then the site.
"$work/fleet" add-site -C "$demo" lon9 --egress-cidr 10.90.0.0/16 --template Pulumi.site-dfw1.yaml \
  --namespace nautobot-lon9 --write-only >"$state/add-review.log" 2>&1 || { cat "$state/add-review.log" >&2; exit 1; }
grep -q 'nothing ran' "$state/add-review.log" || { cat "$state/add-review.log" >&2; exit 1; }
if [ ! -f Pulumi.site-lon9.yaml ] || ! grep -q 'name: lon9' Pulumi.global.yaml; then log "add-site --write-only did not write both files"; exit 1; fi
# The demo does not push certificates: the operator names the item the site's certificate is copied into.
sed -i 's|clientKey: REPLACE/nautobot-mtls-client-lon9|clientKey: nautobot-mtls-client-lon9|' Pulumi.site-lon9.yaml
if grep -v '^ *#' Pulumi.site-lon9.yaml | grep -q REPLACE; then log "Pulumi.site-lon9.yaml holds another REPLACE value"; exit 1; fi
fleet preview --markdown "$state/pr.md" >"$state/pr-preview.log" 2>&1 || { cat "$state/pr-preview.log" >&2; log "the pull request's preview failed"; exit 1; }
if pulumi stack ls --json | grep -q '"site-lon9"'; then log "the preview created site-lon9 in the backend"; exit 1; fi
grep -qE '^site-lon9 .*ok, waits for global' "$state/pr-preview.log" || { cat "$state/pr-preview.log" >&2; log "site-lon9 does not say it waits for global"; exit 1; }
section() { awk -v s="<summary><code>$1</code>" 'index($0, s) { on = 1 } on { print } on && /<\/details>/ { exit }' "$state/pr.md"; }
section site-lon9 | grep -qE '^\| create \| <code>kubernetes&#58;external-secrets\.io/v1&#58;ExternalSecret</code>' ||
  { cat "$state/pr.md" >&2; log "the summary does not list site-lon9's ExternalSecrets to create"; exit 1; }
section global | grep -qE '^\| create \| <code>kubernetes&#58;cert-manager\.io/v1&#58;Certificate</code> \| <code>[^<]*site-lon9</code>' ||
  { cat "$state/pr.md" >&2; log "the summary does not list the global stack's new certificate for lon9"; exit 1; }
fleet up >"$state/pr-deploy.log" 2>&1 || { cat "$state/pr-deploy.log" >&2; log "the deploy after the merge failed"; exit 1; }
fleet preview --sites lon9 --expect-no-changes >/dev/null
log "a site added by pull request: its preview created no stack and waited for global, then the deploy ran global and the site"

# A destroy whose site fails (its stack is locked by a live process) keeps the global stack.
mkdir -p "$locks/site-iad1"
sleep 600 &
held_pid=$!
printf '{"pid": %d, "username": "test", "hostname": "%s", "timestamp": "%s"}' "$held_pid" "$(hostname)" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$locks/site-iad1/held.json"
if fleet destroy >"$state/destroy-partial.log" 2>&1; then log "a destroy with a failing site succeeded"; exit 1; fi
grep -qE '^global .*skipped: kept: site-iad1 not destroyed' "$state/destroy-partial.log" || { cat "$state/destroy-partial.log" >&2; exit 1; }
rm "$locks/site-iad1/held.json"
kill "$held_pid"
held_pid=
log "a destroy whose site failed kept the global stack"

fleet destroy
log "ok in $(($(date +%s) - started)) s: up, a no-change preview of $stacks stacks, interrupted ups recovered, live runs kept, an interrupt and an outage without state loss, destroy"
