#!/usr/bin/env bash
# The global stack's `pulumi preview` against its engine floor: a program (bench/floor) that registers the
# same resources (same number, types, names and parents) through the same kubernetes provider in the same
# render mode (`renderDir`, no cluster), and does nothing else. For each site count N it writes the global
# config with N sites, previews it once with --json to derive the floor's manifest, checks that the floor's
# preview registers exactly those resources, then times ROUNDS rounds, each previewing program and floor in
# every mode one after the other, so machine noise hits all alike. Prints medians, differences and ratios.
#   BENCH_SITES="3 50 100 200" BENCH_ROUNDS=5 BENCH_MODES="prebuilt plain" bash scripts/bench-preview.sh
#                                                                                  (make bench-preview)
# Modes:
#   prebuilt  both programs built once before any timing and run as they are: the Go language host gets
#             `-binary <program>` (a wrapper pulumi-language-go first on PATH, ambient plugins allowed for it).
#             This is the program's own cost, and what the fleet runner's inline program comes closest to.
#   plain     `pulumi preview` as the Makefile's environment runs it: the pinned language host (sdk v3.62.0)
#             runs `go build` of each program into a temporary file on every preview (it reads `binary` only
#             from a command-line flag that the v3.274.1 CLI no longer passes, so runtime.options.binary
#             cannot avoid it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
read -r -a sites <<<"${BENCH_SITES:-3 50 100 200}"
read -r -a modes <<<"${BENCH_MODES:-prebuilt plain}"
rounds=${BENCH_ROUNDS:-5}
work=$(mktemp -d)
id="bench-$$"
floor_dir=bench/floor
cleanup() { rm -rf "$work"; rm -f "Pulumi.$id-"*.yaml "$floor_dir/Pulumi.$id-"*.yaml; }
trap cleanup EXIT
unset PULUMI_CONFIG_PASSPHRASE_FILE
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=bench
mkdir -p "$work/state" "$work/bin"


go build -o "$work/program" .
go build -o "$work/floor" ./$floor_dir
go build -o "$work/tomanifest" ./bench/tomanifest

# The prebuilt mode's toolchain: the same pulumi (its bundled plugins are found next to the resolved binary)
# and a language host wrapper that names the binary in BENCH_BINARY.
real_pulumi=$(readlink -f "$(command -v pulumi)")
real_langhost=$(readlink -f "$(command -v pulumi-language-go)")
ln -s "$real_pulumi" "$work/bin/pulumi"
cat >"$work/bin/pulumi-language-go" <<WRAPPER
#!/usr/bin/env bash
exec $(printf %q "$real_langhost") -binary "\$BENCH_BINARY" "\$@"
WRAPPER
chmod +x "$work/bin/pulumi-language-go"
prebuilt_path="$work/bin:$(tr ':' '\n' <<<"$PATH" | grep -vxF "$root/.tools/bin" | paste -sd:)"

program_stack() { # site-count -> stack name; the demo's global config with N sites, in render mode
  local stack="$id-$1" extra="" i
  for ((i = 4; i <= $1; i++)); do extra+="    - name: site$i"$'\n'; done
  sed -e "s|kubeconfig: .cluster/kubeconfig|renderDir: $work/render-$1|" \
    demo/Pulumi.global.yaml | awk -v extra="$extra" '{ print } /^  nautobot-worker:sites:$/ && extra != "" { printf "%s", extra }' >"Pulumi.$stack.yaml"
  pulumi stack init "organization/nautobot-worker/$stack" --no-select >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  echo "$stack"
}

floor_stack() { # site-count -> stack name
  local stack="$id-$1"
  pulumi -C "$floor_dir" stack init "organization/engine-floor/$stack" --no-select >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  echo "$stack"
}

preview() { # mode program|floor stack [args...]; stdout is the preview's, stderr is shown only on failure
  local mode=$1 which=$2 stack=$3 dir=.
  shift 3
  [ "$which" = floor ] && dir=$floor_dir
  if [ "$mode" = prebuilt ]; then
    PATH=$prebuilt_path PULUMI_IGNORE_AMBIENT_PLUGINS=false BENCH_BINARY="$work/$which" \
      pulumi -C "$dir" preview --stack "$stack" --suppress-progress "$@" 2>"$work/err"
  else
    pulumi -C "$dir" preview --stack "$stack" --suppress-progress "$@" 2>"$work/err"
  fi || { echo "bench: $mode preview of the $which at stack $stack failed:" >&2; cat "$work/err" >&2; exit 1; }
}

time_preview() { # mode program|floor stack -> seconds
  local start
  start=$(date +%s.%N)
  preview "$1" "$2" "$3" >/dev/null
  seconds "$start" "$(date +%s.%N)"
}

declare -A rows
for n in "${sites[@]}"; do
  stack=$(program_stack "$n")
  floor_stack "$n" >/dev/null
  export BENCH_FLOOR_MANIFEST="$work/manifest-$n.json"
  # Untimed: the manifest from the program's preview, and the check that the floor registers the same.
  preview prebuilt program "$stack" --json >"$work/program-$n.json"
  "$work/tomanifest" <"$work/program-$n.json" >"$BENCH_FLOOR_MANIFEST"
  preview prebuilt floor "$stack" --json >"$work/floor-$n.json"
  "$work/tomanifest" -lines <"$work/program-$n.json" >"$work/program-$n.lines"
  "$work/tomanifest" -lines <"$work/floor-$n.json" >"$work/floor-$n.lines"
  if ! diff "$work/program-$n.lines" "$work/floor-$n.lines" >"$work/diff-$n"; then
    echo "bench: at $n sites the floor registers other resources than the program ($(wc -l <"$work/program-$n.lines") vs $(wc -l <"$work/floor-$n.lines")):" >&2
    head -20 "$work/diff-$n" >&2
    exit 1
  fi
  count=$(wc -l <"$work/program-$n.lines")
  for mode in "${modes[@]}"; do
    [ "$mode" = plain ] && { preview plain program "$stack" >/dev/null; preview plain floor "$stack" >/dev/null; } # warm caches
    : >"$work/$mode-program-$n" && : >"$work/$mode-floor-$n"
  done
  for ((r = 1; r <= rounds; r++)); do
    for mode in "${modes[@]}"; do
      time_preview "$mode" program "$stack" >>"$work/$mode-program-$n"
      time_preview "$mode" floor "$stack" >>"$work/$mode-floor-$n"
    done
  done
  for mode in "${modes[@]}"; do
    p=$(median <"$work/$mode-program-$n")
    f=$(median <"$work/$mode-floor-$n")
    printf 'bench: %s, %d sites, %d resources: program %s s; floor %s s\n' "$mode" "$n" "$count" \
      "$(paste -sd' ' "$work/$mode-program-$n")" "$(paste -sd' ' "$work/$mode-floor-$n")" >&2
    rows[$mode]+="$(awk -v n="$n" -v c="$count" -v p="$p" -v f="$f" \
      'BEGIN { printf "| %d | %d | %.2f s | %.2f s | %+.2f s | %.2fx |", n, c, p, f, p - f, p / f }')"$'\n'
  done
done

printf '\nGlobal stack preview vs engine floor, render mode, median of %d rounds (%s, %s cores, %s)\n' \
  "$rounds" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(go env GOVERSION)"
for mode in "${modes[@]}"; do
  printf '\n%s:\n\n| sites | resources | program | floor | program - floor | ratio |\n|---|---|---|---|---|---|\n%s' \
    "$mode" "${rows[$mode]}"
done
