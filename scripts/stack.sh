#!/usr/bin/env bash
# Runs one pulumi operation over stacks in order: scripts/stack.sh up|preview|destroy STACK...
# Expects the environment the Makefile exports (PATH with .tools/bin, PULUMI_HOME, PULUMI_BACKEND_URL, ...).
set -euo pipefail
op=${1:?usage: stack.sh up|preview|destroy STACK...}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac

# The kubernetes provider leaves kubeconfig copies (credentials included) in TMPDIR; give it one we remove.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch"

# stack_exists STACK: prints yes or no. The listing is read whole before it is searched: `pulumi stack ls |
# grep -q` under pipefail fails whenever grep exits before pulumi has written everything (SIGPIPE), which on a
# big fleet made an existing stack look absent. Its caller is no condition, so a failing `pulumi stack ls` or
# an unreadable listing stops the script instead of counting as "absent" (errexit is off in $(...)).
stack_exists() {
  local stacks
  stacks=$(pulumi stack ls --json) || return
  py3 -c '
import json, sys
names = {s["name"] for s in json.loads(sys.stdin.read())}
print("yes" if {sys.argv[1], "organization/nautobot-worker/" + sys.argv[1]} & names else "no")
' "$1" <<<"$stacks"
}

for stack in "$@"; do
  start=$(date +%s)
  exists=$(stack_exists "$stack")
  if [ "$exists" = no ]; then
    [ "$op" = destroy ] && { echo "stack: $stack does not exist, nothing to destroy" >&2; continue; }
    pulumi stack init "organization/nautobot-worker/$stack" --no-select >/dev/null
  fi
  case "$op" in
    up)      pulumi up --stack "$stack" --yes --skip-preview --suppress-progress ;;
    preview) pulumi preview --stack "$stack" --diff --suppress-progress ;;
    # Protected resources (CA, CNPG cluster, namespace) stay: see the README, "Protected resources".
    destroy) pulumi destroy --stack "$stack" --yes --skip-preview --suppress-progress --exclude-protected ;;
    *) echo "stack.sh: unknown operation $op" >&2; exit 2 ;;
  esac
  echo "stack: $op $stack took $(( $(date +%s) - start ))s" >&2
done
