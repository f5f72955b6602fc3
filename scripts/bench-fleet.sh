#!/usr/bin/env bash
# The fleet runner against a sequential loop of `pulumi preview`, on the global stack and SITES (default 20)
# site stacks in render mode (the kubernetes provider's renderDir: no cluster). Both run on a copy of the
# project that holds only these stacks, with the global stack deployed (render mode) once so the sites'
# StackReference has outputs. ROUNDS (default 3) alternating runs of:
#   fleet       the fleet runner's preview (built once before timing, as `go run ./cmd/fleet` reuses its build):
#               the program inline, the sites --parallel at a time (BENCH_FLEET_PARALLEL, default 4)
#   sequential  `pulumi preview --stack S` for each stack in turn, as before the runner: the Go language host
#               builds the program (a link, the build cache warm) for every stack
# Prints the medians and the ratio fleet/sequential.
#   BENCH_FLEET_SITES=20 BENCH_ROUNDS=3 bash scripts/bench-fleet.sh      (make bench-fleet)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
sites=${BENCH_FLEET_SITES:-20}
rounds=${BENCH_ROUNDS:-3}
parallel=${BENCH_FLEET_PARALLEL:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset PULUMI_CONFIG_PASSPHRASE_FILE
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=bench
mkdir -p "$work/state"
chart=$(py3 -c 'import os, sys; print(os.path.realpath(sys.argv[1]))' "$root/../shared/charts/nautobot-3.1.1.tgz")
[ -f "$chart" ] || { echo "bench-fleet: no chart at $chart" >&2; exit 1; }

# The project's files (committed and new, not ignored), without its stacks.
project="$work/project"
mkdir -p "$project"
copy_project "$project"

site_names=()
for ((i = 1; i <= sites; i++)); do site_names+=("$(printf 'b%02d' "$i")"); done
{
  sed -n '/^config:/,/^  nautobot-worker:sites:/p' demo/Pulumi.global.yaml
  for s in "${site_names[@]}"; do echo "    - name: $s"; done
  sed -n '/^  nautobot-worker:authority:/,$p' demo/Pulumi.global.yaml
} | sed -e "s|kubeconfig: .cluster/kubeconfig|renderDir: $work/render/global|" -e "s|path: ../shared/charts/nautobot-3.1.1.tgz|path: $chart|" \
  >"$project/Pulumi.global.yaml"
for s in "${site_names[@]}"; do
  sed -e "s|kubeconfig: .cluster/kubeconfig|renderDir: $work/render/$s|" -e "s|path: ../shared/charts/nautobot-3.1.1.tgz|path: $chart|" \
    -e "s|name: dfw1|name: $s|" -e "s|nautobot-dfw1|nautobot-$s|" -e "s|nautobot-mtls-client-dfw1|nautobot-mtls-client-$s|" \
    demo/Pulumi.site-dfw1.yaml >"$project/Pulumi.site-$s.yaml"
done
if ! grep -q "renderDir: $work/render/global" "$project/Pulumi.global.yaml" || ! grep -q "path: $chart" "$project/Pulumi.global.yaml"; then
  echo "bench-fleet: demo/Pulumi.global.yaml no longer names the demo kubeconfig and chart; update this script" >&2
  exit 1
fi
go build -o "$work/fleet" ./cmd/fleet
stacks=(global "${site_names[@]/#/site-}")
"$work/fleet" up -C "$project" --sites '' >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; exit 1; }
"$work/fleet" preview -C "$project" --parallel "$parallel" >"$work/warm.log" 2>&1 || { tail -40 "$work/warm.log" >&2; exit 1; }

time_fleet() {
  local start
  start=$(date +%s.%N)
  "$work/fleet" preview -C "$project" --parallel "$parallel" >"$work/fleet.log" 2>&1 || { tail -40 "$work/fleet.log" >&2; exit 1; }
  seconds "$start" "$(date +%s.%N)"
}
time_loop() {
  local start s
  start=$(date +%s.%N)
  for s in "${stacks[@]}"; do
    (cd "$project" && pulumi preview --stack "$s" --diff --suppress-progress --color never) >"$work/loop.log" 2>&1 ||
      { tail -40 "$work/loop.log" >&2; exit 1; }
  done
  seconds "$start" "$(date +%s.%N)"
}
time_loop >/dev/null # warms the build cache of the language host's builds
: >"$work/t.fleet" && : >"$work/t.loop"
for ((r = 1; r <= rounds; r++)); do
  time_fleet >>"$work/t.fleet"
  time_loop >>"$work/t.loop"
done
f=$(median <"$work/t.fleet")
l=$(median <"$work/t.loop")
printf 'preview of global + %d sites, median of %d alternating rounds (%s cores, parallel %d, %s):\n' \
  "$sites" "$rounds" "$(nproc)" "$parallel" "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf '  sequential pulumi preview, a build per stack: %7.1fs  (runs: %s)\n' "$l" "$(paste -sd' ' "$work/t.loop")"
printf '  fleet runner:                                 %7.1fs  (runs: %s)  ratio %.2fx\n' "$f" "$(paste -sd' ' "$work/t.fleet")" \
  "$(awk -v a="$f" -v b="$l" 'BEGIN { print a / b }')"
