#!/usr/bin/env bash
# Runs every benchmark, one after the other (never in parallel: they measure the same disk and
# cores). Each prints its figures; BENCHMARKS.md records them. Benchmarks never fail on a time.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli/main.js ] || npm run build
status=0
for b in store pull cli install lint update; do
  [ -f "bench/$b.sh" ] || continue
  echo "=== bench/$b.sh"
  bash "bench/$b.sh" || { echo "bench/$b.sh failed" >&2; status=1; }
  echo
done
exit $status
