#!/usr/bin/env bash
# Measures how the global stack's preview scales with the fleet: `pulumi preview` of the committed global
# config with 3 sites (baseline) and with N sites (default 60), in render mode (no cluster needed), run
# alternately ROUNDS times so machine noise hits both alike. Prints the medians and their ratio.
#   bash scripts/bench-preview.sh [N] [ROUNDS]      (make bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sites=${1:-60}
rounds=${2:-5}
work=$(mktemp -d)
id="bench-$$"
cleanup() { rm -rf "$work"; rm -f "Pulumi.$id-"*.yaml; }
trap cleanup EXIT
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=bench
mkdir -p "$work/state"

make_stack() { # name site-count
  local stack="$id-$1" extra="" i
  for ((i = 4; i <= $2; i++)); do extra+="    - name: site$i"$'\n'; done
  sed -e "s|kubeconfig: .cluster/kubeconfig|renderDir: $work/render-$1|" -e '/^# The salt/d' -e '/^encryptionsalt:/d' \
    Pulumi.global.yaml | awk -v extra="$extra" '{ print } /^  nautobot-worker:sites:$/ && extra != "" { printf "%s", extra }' >"Pulumi.$stack.yaml"
  pulumi stack init "organization/nautobot-worker/$stack" --no-select >/dev/null 2>&1
  echo "$stack"
}

time_preview() { # stack -> seconds
  local start end
  start=$(date +%s.%N)
  pulumi preview --stack "$1" --suppress-progress >/dev/null
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

base=$(make_stack base 3)
fleet=$(make_stack fleet "$sites")
time_preview "$base" >/dev/null # compiles the program once, outside the measurement
: >"$work/base" && : >"$work/fleet"
for ((r = 1; r <= rounds; r++)); do
  time_preview "$base" >>"$work/base"
  time_preview "$fleet" >>"$work/fleet"
done
b=$(median <"$work/base")
f=$(median <"$work/fleet")
resources() { pulumi preview --stack "$1" --json 2>/dev/null | grep -c '"op": "create"'; }
printf 'preview of the global stack, median of %d alternating runs:\n' "$rounds"
printf '  %3d sites (baseline): %6.2fs  (%d resources)\n' 3 "$b" "$(resources "$base")"
printf '  %3d sites:            %6.2fs  (%d resources)\n' "$sites" "$f" "$(resources "$fleet")"
awk -v b="$b" -v f="$f" -v n="$sites" 'BEGIN { printf "  ratio: %.2fx the baseline for %dx the sites\n", f / b, n / 3 }'
