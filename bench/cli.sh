#!/usr/bin/env bash
# CLI start-up benchmark (targets: median < 0.25 s and within 4 x `node -e 0`):
#   node -e 0                                  (the floor)
#   sysctr --help
#   sysctr containers list --all               (20 installed, running containers; one systemctl list-units)
# Runs inside a throw-away systemd booted with systemd-nspawn (containers list asks systemd), with
# hyperfine, RUNS times each (default 20, 3 warm-ups). Prints medians and ratios.
# With arguments NAME=MAIN_JS... (other builds' dist/cli/main.js, e.g. the code before a change), those
# are timed side by side instead: ROUNDS interleaved rounds (default 20, bench/interleave.mjs --cpu),
# each run as the installed bin runs (its shebang), wall and CPU medians with min-max.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$(pwd)
RUNS=${RUNS:-20}
N=${N:-20}
. bench/lib.sh
bench_needs bench/cli.sh systemd-nspawn nsenter runc umoci busybox hyperfine node
. demo/machine.sh
scratch=$(mktemp -d /tmp/sysctr-bench-cli.XXXXXX)
trap 'machine_kill; rm -rf "$scratch"' EXIT

bash demo/build-image.sh fixtures/images/example "$scratch/example" 1 >/dev/null
binds=("$project")
for v in "$@"; do   # each build's project dir, once
  d=$(cd "$(dirname "${v#*=}")/../.." && pwd)
  [[ " ${binds[*]} " == *" $d "* ]] || binds+=("$d")
done
machine_boot "$scratch" "${binds[@]}" || { echo "bench/cli.sh: systemd did not boot" >&2; exit 1; }
S="node $project/dist/cli/main.js"
inside $S pull "oci:$scratch/example:1" >/dev/null
echo "== installing and starting $N containers"
for i in $(seq 1 "$N"); do
  inside $S install --name "benchcli$i" --set "PORT=$((9000 + i))" --set SYSCTR_STOP_TIMEOUT=1 --now example:1 >/dev/null
done
running=$(inside $S containers list -q | wc -l)
echo "running: $running"

# median seconds of a command run inside the machine
hbin() {
  local name=$1 cmd=$2
  inside hyperfine --style none --warmup 3 --runs "$RUNS" --export-json "$scratch/$name.json" -n "$name" "$cmd" >/dev/null 2>&1 \
    || { echo "bench: $name failed: $cmd" >&2; return 1; }
  cp "$scratch/$name.json" "$BENCH_OUT/$name.json"
  node -e 'const r=require(process.argv[1]).results[0]; const t=[...r.times].sort((a,b)=>a-b); console.log(t[Math.floor(t.length/2)].toFixed(3))' "$scratch/$name.json"
}
if [ $# -gt 0 ]; then
  args=(--name "node -e 0" "node -e 0")
  for v in "$@"; do
    args+=(--name "${v%%=*} --help" "${v#*=} --help" --name "${v%%=*} containers list --all" "${v#*=} containers list --all")
  done
  inside node "$project/bench/interleave.mjs" --runs 3 "${args[@]}" >/dev/null
  echo "== $N containers; ${ROUNDS:-20} rounds: median wall (min-max), median CPU user+sys (min-max), seconds"
  inside node "$project/bench/interleave.mjs" --cpu --runs "${ROUNDS:-20}" --json "$BENCH_OUT/cli-compare.json" "${args[@]}"
  exit 0
fi
node0=$(hbin cli-node-e0 "node -e 0")
help=$(hbin cli-help "$S --help")
list=$(hbin cli-containers-list "$S containers list --all")
echo
echo "node -e 0                      median ${node0} s"
echo "sysctr --help                  median ${help} s   ($(ratio "$help" "$node0") x node -e 0)"
echo "sysctr containers list ($N)    median ${list} s   ($(ratio "$list" "$node0") x node -e 0)"
echo "targets: < 0.25 s and < 4 x node -e 0"
