#!/usr/bin/env bash
# Pull benchmark: a ~150 MB (compressed), 3-layer gzip image on a loopback registry.
#   sysctr pull docker://127.0.0.1:PORT/bench/app:1 --tls-verify=false   (fresh store each run)
#   vs podman pull (overlay, its own --root: it also decompresses and checks diff_ids; the reference)
#   and skopeo copy docker://... oci:DIR:1 && umoci unpack
# and, to split transport from import: bench/pull-fetch.mjs (sysctr's registry source: fetch and
# hash every blob, store nothing) vs skopeo copy alone.
# Runs each RUNS times (default 5), interleaved in rounds, prints medians and the ratios, and the
# peak RSS of one run of each from /usr/bin/time -v. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
# three trees from the host's /usr: Python, a compiler, binaries (about 180 MiB of gzip together here)
LAYER_DIRS=(${LAYER_DIRS:-/usr/lib/python3.11 /usr/lib/gcc /usr/bin})

need=(docker-registry skopeo umoci podman /usr/bin/time node curl)
for t in "${need[@]}"; do
  command -v "$t" >/dev/null || { echo "bench/pull.sh: $t is missing (apt-get install -y docker-registry skopeo umoci time)" >&2; exit 1; }
done
[ -f dist/cli/main.js ] || npx tsc -p .
SYSCTR="$PWD/dist/cli/main.js"   # as the installed bin runs (its shebang sets node flags)

work=$(mktemp -d /tmp/sysctr-bench-pull.XXXXXX)
reg_pid=
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building the image (umoci: one repack per layer)"
umoci init --layout "$work/layout" >/dev/null
umoci new --image "$work/layout:1"
for d in "${LAYER_DIRS[@]}"; do
  umoci unpack --image "$work/layout:1" "$work/bundle" >/dev/null
  mkdir -p "$work/bundle/rootfs$(dirname "$d")"
  cp -a "$d" "$work/bundle/rootfs$d"
  umoci repack --image "$work/layout:1" "$work/bundle" >/dev/null
  rm -rf "$work/bundle"
done
umoci gc --layout "$work/layout"
blob_total=$(du -sb "$work/layout/blobs" | cut -f1)
echo "   blobs: $((blob_total / 1048576)) MiB in $(ls "$work/layout/blobs/sha256" | wc -l) blobs"

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mkdir -p "$work/storage"
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
REF="127.0.0.1:$port/bench/app:1"
echo "== pushing to $REF"
skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:1" "docker://$REF"

sysctr_cmd="$SYSCTR --root $work/root pull docker://$REF --tls-verify=false -q"
podman_cmd="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay pull -q --tls-verify=false docker://$REF >/dev/null"
ref_cmd="skopeo copy --quiet --src-tls-verify=false docker://$REF oci:$work/ref:1 && umoci unpack --image $work/ref:1 $work/refbundle >/dev/null"
echo "== timing ($RUNS rounds, each command once a round in rotating order, fresh destination every run)"
# interleaved (bench/interleave.mjs): blocks of runs of one command and then the next would
# compare different moments of this machine's drifting disk and CPU sharing
node bench/interleave.mjs --runs "$RUNS" --prepare "rm -rf $work/root $work/ref $work/refbundle $work/podman $work/podman-run; sync" --json "$work/times.json" \
  --name "sysctr pull" "$sysctr_cmd" \
  --name "podman pull (overlay)" "$podman_cmd" \
  --name "skopeo copy + umoci unpack" "$ref_cmd" \
  --name "transport only (fetch+sha256)" "node $PWD/bench/pull-fetch.mjs $REF" \
  --name "skopeo copy only" "skopeo copy --quiet --src-tls-verify=false docker://$REF oci:$work/ref:1" >/dev/null

rm -rf "$work/root" "$work/ref" "$work/refbundle" "$work/podman" "$work/podman-run"
peak() { /usr/bin/time -v bash -c "$1" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print int($2/1024)}'; }
rss_sysctr=$(peak "$sysctr_cmd")
rss_ref=$(peak "skopeo copy --quiet --src-tls-verify=false docker://$REF oci:$work/ref:1")
rss_umoci=$(peak "umoci unpack --image $work/ref:1 $work/refbundle")
rss_podman=$(peak "$podman_cmd")
rm -rf "$work/podman" "$work/podman-run" 
# re-pull of the unchanged tag into the store the run above filled (target < 0.5 s)
node bench/interleave.mjs --runs "$RUNS" --name repull "$sysctr_cmd" >"$work/repull.txt"
repull=$(awk '$1=="repull" {print $2}' "$work/repull.txt")

node -e '
const j = require(process.argv[1]);
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const [a, p, b, , d] = j.results;
console.log(`image: ${(Number(process.argv[2]) / 1048576).toFixed(0)} MiB of blobs, 3 gzip layers; ${a.times.length} runs each`);
for (const r of j.results) {
  console.log(`${r.name.padEnd(30)} median ${med(r.times).toFixed(2)} s  (min ${Math.min(...r.times).toFixed(2)}, max ${Math.max(...r.times).toFixed(2)})`);
}
console.log(`ratio sysctr / podman pull: ${(med(a.times) / med(p.times)).toFixed(2)} (target <= 0.6)`);
console.log(`ratio sysctr / (skopeo copy + umoci unpack): ${(med(a.times) / med(b.times)).toFixed(2)}`);
console.log(`ratio sysctr / skopeo copy alone: ${(med(a.times) / med(d.times)).toFixed(2)}`);
' "$work/times.json" "$blob_total"
echo "peak RSS: sysctr pull ${rss_sysctr} MiB; podman pull ${rss_podman} MiB; skopeo copy ${rss_ref} MiB, umoci unpack ${rss_umoci} MiB"
echo "re-pull of the unchanged tag: median ${repull} s of $RUNS (target < 0.5 s)"
