#!/usr/bin/env bash
# Install benchmark (target: install of an image already in the store, without --now,
# < 1.5 x the checkout time of that image + 0.3 s):
#   sysctr checkout IMAGE DIR                  (the hardlink checkout alone, with node start-up)
#   sysctr install --name b IMAGE              (checkout + render + unit files + daemon-reload +
#                                               tmpfiles + enable), uninstalled between runs
#   cp -al of the same rootfs                  (the floor for a hardlink checkout)
# The image is the example image plus LAYER_DIRS from the host (default /usr/lib/python3 and
# /usr/share/doc: about 15,000 files). Runs inside a throw-away systemd (systemd-nspawn), RUNS
# times each (default 5) with hyperfine; prints medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$(pwd)
RUNS=${RUNS:-5}
LAYER_DIRS=(${LAYER_DIRS:-/usr/lib/python3 /usr/share/doc})
. bench/lib.sh
bench_needs bench/install.sh systemd-nspawn nsenter runc umoci busybox hyperfine node
. demo/machine.sh
scratch=$(mktemp -d /tmp/sysctr-bench-install.XXXXXX)
trap 'machine_kill; rm -rf "$scratch"' EXIT

echo "== building the image: example + ${LAYER_DIRS[*]}"
src=$scratch/src
cp -a fixtures/images/example "$src"
for d in "${LAYER_DIRS[@]}"; do mkdir -p "$src/rootfs$(dirname "$d")"; cp -a "$d" "$src/rootfs$d"; done
bash demo/build-image.sh "$src" "$scratch/layout" big >/dev/null
rm -rf "$src"
machine_boot "$scratch" "$project" || { echo "bench/install.sh: systemd did not boot" >&2; exit 1; }
S="node $project/dist/cli/main.js"
inside $S pull "oci:$scratch/layout:big" >/dev/null
files=$(inside sh -c "$S checkout layout:big /var/tmp/probe --json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).files))')
echo "image: $files files"

hbin() {
  local name=$1 prep=$2 cmd=$3
  inside hyperfine --style none --runs "$RUNS" --prepare "$prep" --export-json "$scratch/$name.json" -n "$name" "$cmd" >/dev/null 2>&1 \
    || { echo "bench: $name failed: $cmd" >&2; return 1; }
  cp "$scratch/$name.json" "$BENCH_OUT/$name.json"
  node -e 'const r=require(process.argv[1]).results[0]; const t=[...r.times].sort((a,b)=>a-b); console.log(t[Math.floor(t.length/2)].toFixed(3))' "$scratch/$name.json"
}
echo "one install, step by step (SYSCTR_STEP_TIMES=1):"
inside env SYSCTR_STEP_TIMES=1 $S install --name b layout:big 2>&1 >/dev/null | sed 's/^/  /'
inside $S uninstall b >/dev/null
cpal=$(hbin install-cp-al "rm -rf /var/tmp/cpal" "cp -al /var/tmp/probe /var/tmp/cpal")
co=$(hbin install-checkout "rm -rf /var/tmp/co" "$S checkout layout:big /var/tmp/co")
inst=$(hbin install-no-now "$S uninstall b" "$S install --name b layout:big")
limit=$(node -e 'console.log((1.5 * +process.argv[1] + 0.3).toFixed(3))' "$co")
echo
echo "cp -al (floor)                 median ${cpal} s"
echo "sysctr checkout                median ${co} s"
echo "sysctr install (no --now)      median ${inst} s   ($(ratio "$inst" "$co") x checkout; target < 1.5 x checkout + 0.3 s = ${limit} s)"
