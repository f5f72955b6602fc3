#!/usr/bin/env bash
# The mock side of `make bench`:
#   1. BenchmarkGlobalStackMocks (bench/mocks): the global stack's program under the unit tests' Pulumi mocks
#      at 3, 50 and 200 sites, time per run;
#   2. the whole mock unit suite (`make test-unit`'s packages) warm: once to fill the build cache, then
#      ROUNDS timed runs with -count=1 (every test runs, none is taken from the test cache), and one run as
#      `make test-unit` does it, whose results Go may take from its test cache.
#   BENCH_ROUNDS=5 bash scripts/bench-mocks.sh      (make bench-mocks)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
rounds=${BENCH_ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packages=(./components/... ./stacks/... ./internal/... ./cmd/... ./bench/... . ./tests/workflows/...)


echo "The global stack's program under mocks (go test -bench GlobalStackMocks ./bench/mocks):"
go test -run '^$' -bench GlobalStackMocks -benchtime "${rounds}x" -count 1 ./bench/mocks | grep '^Benchmark'

go test -count=1 "${packages[@]}" >/dev/null # builds every test binary, outside the measurement
: >"$work/suite"
for ((r = 1; r <= rounds; r++)); do
  start=$(date +%s.%N)
  go test -count=1 "${packages[@]}" >"$work/last"
  seconds "$start" "$(date +%s.%N)" >>"$work/suite"
done
start=$(date +%s.%N)
go test "${packages[@]}" >/dev/null
cached=$(seconds "$start" "$(date +%s.%N)")

printf '\nMock unit suite (go test -count=1 %s), warm build cache, median of %d: %.2f s (runs: %s)\n' \
  "${packages[*]}" "$rounds" "$(median <"$work/suite")" "$(paste -sd' ' "$work/suite")"
printf 'The same as make test-unit runs it, test results cached: %.2f s\n' "$cached"
echo 'Slowest packages of the last timed run:'
awk '$1 == "ok" { print "  " $3 "  " $2 }' "$work/last" | sort -rn | head -5
