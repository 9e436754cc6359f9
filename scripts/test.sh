#!/usr/bin/env bash
# Runs every test with tap and closes with one plain line "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
npx tap "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^# \{ total:' "$log" | tail -n1)
num() { echo "$summary" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
pass=$(num pass); fail=$(num fail); skip=$(num skip); todo=$(num todo)
rm -f "$log"
echo
echo "tests: ${pass} passed, ${fail} failed, ${skip} skipped"
[ -n "$summary" ] || { echo "tests: tap printed no summary" >&2; exit 1; }
exit "$rc"
