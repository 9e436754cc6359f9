# Shared by the bench scripts: hyperfine runs with JSON export, and a median reader.
BENCH_OUT=${BENCH_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out}
mkdir -p "$BENCH_OUT"
SYSCTR=${SYSCTR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/dist/cli/main.js}

# hb NAME PREPARE COMMAND [RUNS]: median seconds of COMMAND (PREPARE runs untimed before each run)
hb() {
  local name=$1 prep=$2 cmd=$3 runs=${4:-5}
  hyperfine --style none --runs "$runs" --prepare "$prep" --export-json "$BENCH_OUT/$name.json" -n "$name" "$cmd" >/dev/null 2>&1 \
    || { echo "bench: $name failed: $cmd" >&2; return 1; }
  node -e 'const r=require(process.argv[1]).results[0]; const t=[...r.times].sort((a,b)=>a-b); console.log(t[Math.floor(t.length/2)].toFixed(3))' "$BENCH_OUT/$name.json"
}

ratio() { node -e 'console.log((+process.argv[1] / +process.argv[2]).toFixed(2))' "$1" "$2"; }

# peak RSS in MB of a command
peak_mb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n1 | awk '{printf "%.0f", $1/1024}'; }

# bench_needs SCRIPT TOOL...: stop with a clear line when a tool is missing; build dist/ if needed
bench_needs() {
  local script=$1; shift
  for p in "$@"; do
    command -v "$p" >/dev/null || { echo "$script: $p is missing (bash scripts/setup.sh)" >&2; exit 1; }
  done
  [ -f dist/cli/main.js ] || npm run build >/dev/null
}
