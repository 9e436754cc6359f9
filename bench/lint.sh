#!/usr/bin/env bash
# Times `sysctr lint --no-systemd` of one image directory (default: the largest compat image,
# docker-fedora) with hyperfine, and prints the median. Target: < 0.5 s.
# Usage: bench/lint.sh [DIR]   (builds dist/ first if it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-../shared/compat/atomic-system-containers/docker-fedora}
[ -d "$dir" ] || { echo "bench/lint.sh: no directory $dir (give one as the argument)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench/lint.sh: hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }
[ -f dist/cli/main.js ] || npm run build >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# lint exits 1 when the image has errors: that is a result, not a failed run
hyperfine --warmup 2 --runs 10 -i --export-json "$out/lint.json" \
  "node dist/cli/main.js lint --no-systemd $dir" \
  "node dist/cli/main.js --version" >&2
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const [lint, start] = r;
const ok = lint.median < 0.5;
console.log(`sysctr lint --no-systemd ${process.argv[2]}: median ${lint.median.toFixed(3)} s (min ${lint.min.toFixed(3)}, max ${lint.max.toFixed(3)}, 10 runs); node + sysctr start-up alone: ${start.median.toFixed(3)} s; target < 0.5 s: ${ok ? "met" : "MISSED"}`);
process.exitCode = ok ? 0 : 1;
' "$out/lint.json" "$dir"
