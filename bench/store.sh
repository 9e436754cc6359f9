#!/usr/bin/env bash
# Store benchmarks: import and checkout of a ~21,000-file / ~340 MB tree from this machine's
# /usr, side by side with umoci, ostree and cp -al (medians of 5), checkout disk cost, peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
W=${BENCH_DIR:-/var/tmp/sysctr-bench}
RUNS=${RUNS:-5}
mkdir -p "$W"

if [ ! -f "$W/layout/index.json" ]; then
  echo "bench: building the tree from /usr and its image (one gzip layer)"
  rm -rf "$W/tree"; mkdir -p "$W/tree"
  for d in /usr/lib/python3 /usr/share/perl /usr/lib/node_modules /usr/share/doc /usr/include; do
    [ -e "$d" ] || continue
    mkdir -p "$W/tree$(dirname "$d")"; cp -a "$d" "$W/tree$d"
  done
  tar -C "$W/tree" -czf "$W/layer.tar.gz" .
  node bench/make-layout.mjs "$W/layer.tar.gz" "$W/layout" bench
fi
files=$(find "$W/tree" | wc -l); size=$(du -sm "$W/tree" | cut -f1)
echo "tree: $files entries, $size MB"

S="env SYSCTR_ROOT=$W/s"
# imports, interleaved in rounds like the checkouts below: each run starts after all three
# destinations are removed (ext4 without a journal then skips the just-freed inodes on every
# create, for each of the three alike) and a sync
node bench/interleave.mjs --runs "$RUNS" --prepare "rm -rf $W/s $W/u $W/repo; ostree --repo=$W/repo init --mode=bare; sync" \
  --json "$BENCH_OUT/import.json" \
  --name sysctr "$S $SYSCTR pull -q oci:$W/layout:bench" \
  --name umoci "umoci unpack --image $W/layout:bench $W/u" \
  --name ostree "ostree --repo=$W/repo commit --branch=b --tree=dir=$W/tree" >"$BENCH_OUT/import.txt"
imp_sysctr=$(awk '$1=="sysctr" {print $2}' "$BENCH_OUT/import.txt")
imp_umoci=$(awk '$1=="umoci" {print $2}' "$BENCH_OUT/import.txt")
imp_ostree=$(awk '$1=="ostree" {print $2}' "$BENCH_OUT/import.txt")
# the checkouts below need the store and the ostree repo
[ -d "$W/s" ] || $S $SYSCTR pull -q "oci:$W/layout:bench"
[ -e "$W/repo/refs/heads/b" ] || ostree --repo="$W/repo" commit --branch=b --tree=dir="$W/tree" >/dev/null

# checkouts (the store and the ostree repo from the last runs above), interleaved: each round runs
# the three in rotating order, each after removing every checkout and a sync, so that all three
# meet the same disk (this disk's speed drifts by tens of percent within a minute, and the first
# command after a large rm -rf pays for the discards it queued)
node bench/interleave.mjs --runs "$RUNS" --prepare "rm -rf $W/co $W/cp $W/oco; sync" --json "$BENCH_OUT/checkout.json" \
  --name sysctr "$S $SYSCTR checkout layout:bench $W/co" \
  --name cp-al "cp -al $W/tree $W/cp" \
  --name ostree "ostree --repo=$W/repo checkout -H b $W/oco" >"$BENCH_OUT/checkout.txt"
co_sysctr=$(awk '$1=="sysctr" {print $2}' "$BENCH_OUT/checkout.txt")
co_cp=$(awk '$1=="cp-al" {print $2}' "$BENCH_OUT/checkout.txt")
co_ostree=$(awk '$1=="ostree" {print $2}' "$BENCH_OUT/checkout.txt")
rm -rf "$W/co" "$W/cp" "$W/oco"

# the same checkouts on a quiet disk: nothing deleted for a minute before, each run into a new
# directory (no rm between runs), and beside them the floor for any checkout written in Node
# (bench/checkout-floor.mjs: Node's start, the merged tree, mkdir and link, nothing else)
rm -rf "$W/quiet"; mkdir -p "$W/quiet"; sync; sleep 60
node bench/interleave.mjs --runs "$RUNS" --prepare "sync" --json "$BENCH_OUT/checkout-quiet.json" \
  --name sysctr "$S $SYSCTR checkout layout:bench $W/quiet/s.{n}" \
  --name cp-al "cp -al $W/tree $W/quiet/c.{n}" \
  --name ostree "ostree --repo=$W/repo checkout -H b $W/quiet/o.{n}" \
  --name node-floor "node bench/checkout-floor.mjs $W/s/store $W/quiet/f.{n}" >"$BENCH_OUT/checkout-quiet.txt"
q_sysctr=$(awk '$1=="sysctr" {print $2}' "$BENCH_OUT/checkout-quiet.txt")
q_cp=$(awk '$1=="cp-al" {print $2}' "$BENCH_OUT/checkout-quiet.txt")
q_ostree=$(awk '$1=="ostree" {print $2}' "$BENCH_OUT/checkout-quiet.txt")
q_floor=$(awk '$1=="node-floor" {print $2}' "$BENCH_OUT/checkout-quiet.txt")
rm -rf "$W/quiet"

# disk blocks a second checkout adds (du counts each inode once across its arguments)
rm -rf "$W/co" "$W/co2"
$S $SYSCTR checkout layout:bench "$W/co" >/dev/null
before=$(du -sk "$W/s" "$W/co" | awk '{s+=$1} END {print s}')
$S $SYSCTR checkout layout:bench "$W/co2" >/dev/null
after=$(du -sk "$W/s" "$W/co" "$W/co2" | awk '{s+=$1} END {print s}')
treekb=$(du -sk "$W/tree" | cut -f1)
pct() { node -e "console.log(((+process.argv[1]-+process.argv[2])/+process.argv[3]*100).toFixed(2))" "$@"; }
second_pct=$(pct "$after" "$before" "$treekb")
# of which file data: blocks of files the checkout wrote rather than linked (link count 1)
data_kb=$(find "$W/co2" -type f -links 1 -printf '%b\n' | awk '{s+=$1} END {print int(s/2)}')
dirs=$(find "$W/co2" -type d | wc -l)
# the same measure for cp -al of the tree
rm -rf "$W/cp" "$W/cp2"; cp -al "$W/tree" "$W/cp"
cbefore=$(du -sk "$W/tree" "$W/cp" | awk '{s+=$1} END {print s}')
cp -al "$W/tree" "$W/cp2"
cafter=$(du -sk "$W/tree" "$W/cp" "$W/cp2" | awk '{s+=$1} END {print s}')
cp_pct=$(pct "$cafter" "$cbefore" "$treekb")
rm -rf "$W/cp" "$W/cp2" "$W/co2"
# and for ostree checkout -H
rm -rf "$W/oco" "$W/oco2"; ostree --repo=$W/repo checkout -H b "$W/oco"
obefore=$(du -sk "$W/repo" "$W/oco" | awk '{s+=$1} END {print s}')
ostree --repo=$W/repo checkout -H b "$W/oco2"
oafter=$(du -sk "$W/repo" "$W/oco" "$W/oco2" | awk '{s+=$1} END {print s}')
ostree_pct=$(pct "$oafter" "$obefore" "$treekb")
rm -rf "$W/oco" "$W/oco2"
blocksz=$(stat -c %s "$W/tree")

# the second checkout's blocks on filesystems that keep small directories inside their inode
# (ext4 with inline_data, XFS), each a loop-mounted file; df counts every block the filesystem
# allocated, metadata included
# a run stopped half-way (set -e) must not leave a loop filesystem mounted
trap 'for m in "$W"/fs-*/; do mountpoint -q "$m" && umount "$m"; done 2>/dev/null; rm -f "$W"/fs-*.img' EXIT
fs_second() { # TYPE: "sysctr_pct cp_pct" for a store, two checkouts and two cp -al on a new TYPE
  local img="$W/fs-$1.img" mnt="$W/fs-$1" a b c d
  truncate -s 3G "$img"
  case $1 in
    ext4-inline) mkfs.ext4 -q -F -O inline_data -I 256 "$img" ;;
    xfs) mkfs.xfs -q -f "$img" ;;
  esac
  mkdir -p "$mnt"; mount -o loop "$img" "$mnt"
  used() { sync; df -k --output=used "$mnt" | tail -n1; }
  env SYSCTR_ROOT="$mnt/s" $SYSCTR pull -q "oci:$W/layout:bench"
  env SYSCTR_ROOT="$mnt/s" $SYSCTR checkout layout:bench "$mnt/co1" >/dev/null
  a=$(used); env SYSCTR_ROOT="$mnt/s" $SYSCTR checkout layout:bench "$mnt/co2" >/dev/null; b=$(used)
  cp -a "$W/tree" "$mnt/tree"; cp -al "$mnt/tree" "$mnt/cp1"
  c=$(used); cp -al "$mnt/tree" "$mnt/cp2"; d=$(used)
  umount "$mnt"; rm -rf "$img" "$mnt"
  echo "$(pct "$b" "$a" "$treekb") $(pct "$d" "$c" "$treekb")"
}
fs_line="not measured: needs root, loop devices, mkfs.ext4 and mkfs.xfs (xfsprogs)"
if [ "$(id -u)" = 0 ] && losetup -f >/dev/null 2>&1 && command -v mkfs.xfs >/dev/null && command -v mkfs.ext4 >/dev/null; then
  read -r e4_s e4_c < <(fs_second ext4-inline)
  read -r xfs_s xfs_c < <(fs_second xfs)
  fs_line="ext4 with \`inline_data\`: sysctr $e4_s %, \`cp -al\` $e4_c %; XFS: sysctr $xfs_s %, \`cp -al\` $xfs_c % (each a new 3 GB filesystem in a loop-mounted file; blocks counted by df)"
fi

# peak memory of the import, for this layer and a 10x larger one (the tree ten times over)
rm -rf "$W/s"; mem1=$(peak_mb env SYSCTR_ROOT=$W/s $SYSCTR pull -q oci:$W/layout:bench)
if [ ! -f "$W/biglayout/index.json" ]; then
  rm -rf "$W/big"; mkdir -p "$W/big"
  for i in 0 1 2 3 4 5 6 7 8 9; do ln -sfn "$W/tree" "$W/big/copy$i"; done
  tar -C "$W/big" --hard-dereference -chf "$W/big.tar" . 2>/dev/null || true
  node bench/make-layout.mjs "$W/big.tar" "$W/biglayout" big
fi
bigmb=$(( $(stat -c %s "$W/big.tar") / 1000000 ))
rm -rf "$W/s10"; mem10=$(peak_mb env SYSCTR_ROOT=$W/s10 $SYSCTR pull -q oci:$W/biglayout:big); rm -rf "$W/s10"

cat > "$BENCH_OUT/store.md" <<MD
Tree: $files entries, $size MB (from /usr); one gzip layer. Medians of $RUNS runs, seconds; checkouts interleaved in rounds (bench/interleave.mjs).

| operation | sysctr | reference | ratio | target |
|---|---|---|---|---|
| import: \`sysctr pull oci:\` vs \`umoci unpack\` | $imp_sysctr | $imp_umoci | $(ratio "$imp_sysctr" "$imp_umoci") | ≤ 0.6 |
| import: \`sysctr pull oci:\` vs \`ostree commit\` | $imp_sysctr | $imp_ostree | $(ratio "$imp_sysctr" "$imp_ostree") | ≤ 1.0 |
| checkout vs \`cp -al\` | $co_sysctr | $co_cp | $(ratio "$co_sysctr" "$co_cp") | ≤ 1.3 |
| checkout vs \`ostree checkout -H\` | $co_sysctr | $co_ostree | $(ratio "$co_sysctr" "$co_ostree") | ≤ 1.3 |
| checkout vs \`cp -al\`, quiet disk | $q_sysctr | $q_cp | $(ratio "$q_sysctr" "$q_cp") | ≤ 1.3 |
| checkout vs \`ostree checkout -H\`, quiet disk | $q_sysctr | $q_ostree | $(ratio "$q_sysctr" "$q_ostree") | ≤ 1.3 |
| Node floor (mkdir + link only) vs \`cp -al\`, quiet disk | $q_floor | $q_cp | $(ratio "$q_floor" "$q_cp") | |

- A second checkout of the same image adds $second_pct % of the tree's size in disk blocks (target < 1 %); file data: $data_kb kB (0 means every file is a hardlink); the rest is the $dirs directories' own blocks ($blocksz bytes each on this ext4, which has no inline_data), which no hardlink checkout can share: \`cp -al\` of the same tree adds $cp_pct %, \`ostree checkout -H\` $ostree_pct %.
- The same second checkout on filesystems that keep small directories in the inode: $fs_line (target < 1 %).
- Peak memory of the import: $mem1 MB for this layer; $mem10 MB for a layer 10× larger ($bigmb MB uncompressed, the tree ten times over) (target < 200 MB).
MD
cat "$BENCH_OUT/store.md"
