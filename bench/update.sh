#!/usr/bin/env bash
# Update benchmark, inside a throw-away systemd (systemd-nspawn), state root on the
# scratch dir (the host's disk, so directory blocks count as they would on a server):
#  1. downtime of `containers update` of a running service: an HTTP GET every 10 ms, from the last
#     answer of the old deployment to the first of the new one; UPDATES updates (default 7),
#     median. The bundled example image (busybox httpd as PID 1, which ignores SIGTERM) is run with
#     SYSCTR_STOP_TIMEOUT=0, else each stop waits out the 10 s grace period; the update-v1 image,
#     whose PID 1 handles SIGTERM, is measured with the default grace period.
#  2. `containers update` (service not running) to an image that shares all but one small layer
#     with the live one, against `sysctr checkout` of that image (hyperfine, RUNS runs, medians);
#     target < 1.5 x checkout + 0.5 s.
#  3. new disk blocks of that update beyond the changed layer (du of the store and the new
#     deployment together: hardlinked files count once), against the image size; target < 1 %.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$(pwd)
RUNS=${RUNS:-5}
UPDATES=${UPDATES:-7}
LAYER_DIRS=(${LAYER_DIRS:-/usr/lib/python3 /usr/share/doc})
. bench/lib.sh
bench_needs bench/update.sh systemd-nspawn nsenter runc umoci busybox hyperfine node
. demo/machine.sh
scratch=$(mktemp -d /var/tmp/sysctr-bench-update.XXXXXX)
trap 'set +e; machine_kill; rm -rf "$scratch"' EXIT
S="node $project/dist/cli/main.js"
R=$scratch/root
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== building images"
bash demo/build-image.sh fixtures/images/example "$scratch/layout" ex1 >/dev/null
cp -a fixtures/images/example "$scratch/ex2" && echo ex2 >"$scratch/ex2/rootfs/usr/bin/version"
bash demo/build-image.sh "$scratch/ex2" "$scratch/layout" ex2 >/dev/null
bash demo/build-image.sh fixtures/images/update-v1 "$scratch/layout" up1 >/dev/null
bash demo/build-image.sh fixtures/images/update-v2 "$scratch/layout" up2 >/dev/null
src=$scratch/src
cp -a fixtures/images/example "$src"
for d in "${LAYER_DIRS[@]}"; do mkdir -p "$src/rootfs$(dirname "$d")"; cp -a "$d" "$src/rootfs$d"; done
bash demo/build-image.sh "$src" "$scratch/layout" big >/dev/null
rm -rf "$src"
# big2 = big + one small layer (umoci repack of an unpacked big writes only the difference)
umoci unpack --image "$scratch/layout:big" "$scratch/bundle" >/dev/null
echo "changed in big2" > "$scratch/bundle/rootfs/usr/share/bench-changed.txt"
umoci repack --image "$scratch/layout:big2" "$scratch/bundle" >/dev/null
rm -rf "$scratch/bundle"
umoci unpack --image "$scratch/layout:big" "$scratch/bundle" >/dev/null
echo "changed in big3" > "$scratch/bundle/rootfs/usr/share/bench-changed-3.txt"
umoci repack --image "$scratch/layout:big3" "$scratch/bundle" >/dev/null
rm -rf "$scratch/bundle"
machine_boot "$scratch" "$project" || { echo "bench/update.sh: systemd did not boot" >&2; exit 1; }
for tag in ex1 ex2 up1 up2 big big2 big3; do inside env SYSCTR_ROOT=$R $S pull "oci:$scratch/layout:$tag" >/dev/null; done

downtime() { # NAME PORT IMAGE_A IMAGE_B: UPDATES updates of a running service, alternating images and --set MESSAGE
  local name=$1 port=$2 i old new image
  for i in $(seq 1 "$UPDATES"); do
    old=answer-$((i - 1)) new=answer-$i
    if [ $((i % 2)) = 1 ]; then image=$4; else image=$3; fi
    rm -f "$scratch/ready"
    inside node "$project/bench/update-poll.mjs" "http://127.0.0.1:$port/" "$old" "$new" "$scratch/ready" >"$scratch/poll" &
    local poller=$! n
    for n in $(seq 1 100); do [ -e "$scratch/ready" ] && break; sleep 0.05; done
    inside env SYSCTR_ROOT=$R $S containers update --rebase "$image" --set "MESSAGE=$new" --settle 0.5 "$name" >/dev/null
    wait "$poller" || echo "bench: the poller saw no switch from $old to $new" >&2
    cat "$scratch/poll"
  done
}
echo "== 1. downtime of an update of a running service (GET every 10 ms), $UPDATES updates each"
inside env SYSCTR_ROOT=$R $S install --name ex --set PORT=8501 --set MESSAGE=answer-0 --set SYSCTR_STOP_TIMEOUT=0 --now layout:ex1 >/dev/null
ex=$(downtime ex 8501 layout:ex1 layout:ex2 | tr '\n' ' ')
inside env SYSCTR_ROOT=$R $S install --name up --set PORT=8502 --set MESSAGE=answer-0 --now layout:up1 >/dev/null
up=$(downtime up 8502 layout:up1 layout:up2 | tr '\n' ' ')
echo "example image (SYSCTR_STOP_TIMEOUT=0): ms $ex  median $(echo $ex | tr ' ' '\n' | median) ms"
echo "update-v1 image (PID 1 handles SIGTERM, default grace): ms $up  median $(echo $up | tr ' ' '\n' | median) ms"
inside env SYSCTR_ROOT=$R $S uninstall ex >/dev/null; inside env SYSCTR_ROOT=$R $S uninstall up >/dev/null

echo "== 2. update to an image sharing all but one small layer (service not running), $RUNS runs"
hbin() {
  local name=$1 prep=$2 cmd=$3
  inside hyperfine --style none --runs "$RUNS" --prepare "$prep" --export-json "$scratch/$name.json" -n "$name" "$cmd" >/dev/null 2>&1 \
    || { echo "bench: $name failed: $cmd" >&2; return 1; }
  cp "$scratch/$name.json" "$BENCH_OUT/$name.json"
  node -e 'const r=require(process.argv[1]).results[0]; const t=[...r.times].sort((a,b)=>a-b); console.log(t[Math.floor(t.length/2)].toFixed(3))' "$scratch/$name.json"
}
inside env SYSCTR_ROOT=$R $S install --name b layout:big >/dev/null
files=$(inside sh -c "SYSCTR_ROOT=$R $S checkout layout:big $scratch/probe --json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).files))')
co=$(hbin update-checkout "rm -rf $scratch/co" "env SYSCTR_ROOT=$R $S checkout layout:big2 $scratch/co")
up=$(hbin update-small-layer "env SYSCTR_ROOT=$R $S containers update --rebase layout:big b" "env SYSCTR_ROOT=$R $S containers update --rebase layout:big2 b")
limit=$(node -e 'console.log((1.5 * +process.argv[1] + 0.5).toFixed(3))' "$co")
echo "image: $files files"
echo "one update, step by step (SYSCTR_STEP_TIMES=1):"
inside env SYSCTR_ROOT=$R $S containers update --rebase layout:big b >/dev/null
inside env SYSCTR_ROOT=$R SYSCTR_STEP_TIMES=1 $S containers update --rebase layout:big2 b 2>&1 >/dev/null | sed 's/^/  /'
echo "sysctr checkout              median ${co} s"
echo "sysctr containers update     median ${up} s   ($(ratio "$up" "$co") x checkout; target < 1.5 x checkout + 0.5 s = ${limit} s)"

echo "== 3. new disk blocks of an update"
# steady state: live big2, the rollback slot holds big; the update to big3 (big + another small
# layer, already in the store) reuses that slot's checkout. du counts an inode once per call, so
# du of the whole state root before and after is what the update added.
inside env SYSCTR_ROOT=$R $S containers update --rebase layout:big b >/dev/null
inside env SYSCTR_ROOT=$R $S containers update --rebase layout:big2 b >/dev/null
sleep 2 # the background removal of replaced deployments, if any
before=$(inside du -sk "$R" | cut -f1)
inside env SYSCTR_ROOT=$R $S containers update --rebase layout:big3 b >/dev/null
after=$(inside du -sk "$R" | cut -f1)
live=$(inside readlink "$R/b")
image_kb=$(inside du -sk --apparent-size "$R/$live/rootfs" | cut -f1)
dirs=$(inside find "$R/$live" -type d | wc -l)
pct() { node -e 'console.log((100 * +process.argv[1] / +process.argv[2]).toFixed(2))' "$1" "$2"; }
echo "update to an image sharing all but one small layer: $((after - before)) KiB new blocks for an image of ${image_kb} KiB: $(pct $((after - before)) "$image_kb") % (target < 1 %)"
# a first update (an empty rollback slot) checks out afresh: a new directory for each of the image's
new_kb=$(inside du -sk "$R/store" "$R/$live" | tail -1 | cut -f1)
inside cp -al "$R/$live/rootfs" "$scratch/cpal"
cpal_kb=$(inside du -sk "$R/store" "$R/$live" "$scratch/cpal" | tail -1 | cut -f1)
echo "a first update (fresh checkout, ${dirs} directories): ${new_kb} KiB new blocks, $(pct "$new_kb" "$image_kb") %; cp -al of the same rootfs: ${cpal_kb} KiB"
