#!/usr/bin/env bash
# build-image.sh SRC_DIR OCI_LAYOUT_DIR TAG
# Builds a system container image from a source dir (rootfs/ and exports/, see
# fixtures/images/example) with umoci: busybox-static from the host as /bin/busybox with applet
# links, SRC/rootfs/* on top, SRC/exports as /exports, Cmd /usr/bin/run.sh, label atomic.type=system.
set -euo pipefail
src=$1 layout=$2 tag=$3
[ -d "$src/exports" ] || { echo "build-image: $src has no exports/ directory" >&2; exit 1; }
busybox=$(command -v busybox) || { echo "build-image: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -f "$layout/oci-layout" ] || umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$work/bundle" >/dev/null
r=$work/bundle/rootfs
mkdir -p "$r/bin" "$r/usr/bin" "$r/sbin" "$r/srv/www" "$r/proc" "$r/dev" "$r/sys" "$r/tmp" "$r/etc" "$r/run" "$r/var"
cp "$busybox" "$r/bin/busybox"
for a in sh ash cat echo ls sleep httpd wget nc mkdir rm env id ps kill true false date hostname; do ln -sf /bin/busybox "$r/bin/$a"; done
[ -d "$src/rootfs" ] && cp -a "$src/rootfs/." "$r/"
mkdir -p "$r/exports" && cp -a "$src/exports/." "$r/exports/"
umoci repack --image "$layout:$tag" "$work/bundle" >/dev/null
umoci config --image "$layout:$tag" --config.cmd /usr/bin/run.sh --config.label atomic.type=system >/dev/null
umoci gc --layout "$layout"
