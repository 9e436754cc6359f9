#!/usr/bin/env bash
# The sysctr demo: builds the example image (fixtures/images/example), boots a throw-away systemd
# with systemd-nspawn (the host's services are never touched: / is volatile in there), and inside it
# runs pull -> install -> start -> an HTTP request -> containers list -> stop -> uninstall, printing
# each step and its result. Exits non-zero when a step fails; always kills the machine it booted.
set -uo pipefail
cd "$(dirname "$0")/.."
project=$(pwd)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf '\n\033[31mdemo FAILED: %s\033[0m\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run the demo as root (it boots a container with systemd-nspawn and runs runc)"
for p in systemd-nspawn nsenter runc umoci busybox node; do
  command -v "$p" >/dev/null || die "$p is missing: run bash scripts/setup.sh first"
done
[ -f dist/cli/main.js ] || { say "building sysctr"; npm run build >/dev/null || die "npm run build failed"; }

scratch=$(mktemp -d /tmp/sysctr-demo-XXXXXX)
# shellcheck source=demo/machine.sh
. demo/machine.sh
cleanup() {
  machine_kill
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "1. build the example image (busybox httpd + /exports) into an OCI layout"
bash demo/build-image.sh fixtures/images/example "$scratch/example" 1.0 || die "image build failed"
echo "built $scratch/example:1.0"

say "2. boot a throw-away systemd with systemd-nspawn"
machine_boot "$scratch" "$project" || die "systemd did not boot"
echo "systemd is up (machine leader pid $leader); the host's services are not touched"

step() {
  local title=$1; shift
  say "$title"
  printf '$ %s\n' "$*"
  inside "$@" || die "$title"
}
sysctr="node $project/dist/cli/main.js"

step "3. pull the image into sysctr's store" $sysctr pull "oci:$scratch/example:1.0"
step "4. install it as a system service (with --set)" $sysctr install --name hello --set PORT=8080 --set "MESSAGE=Hello from the sysctr demo" --set SYSCTR_STOP_TIMEOUT=3 example:1.0
step "   the unit sysctr wrote, with its drop-in" systemctl cat hello.service
step "5. start it" $sysctr start hello
say "6. ask the service over HTTP"
page=
for _ in $(seq 1 40); do
  page=$(inside busybox wget -qO- http://127.0.0.1:8080/ 2>/dev/null) && [ -n "$page" ] && break
  sleep 0.25
done
echo "\$ wget -qO- http://127.0.0.1:8080/"
echo "$page"
[ "$page" = "Hello from the sysctr demo" ] || die "unexpected answer: '$page'"
step "7. list containers" $sysctr containers list
step "8. stop it (httpd ignores SIGTERM as PID 1: after a 3 s grace period sysctr's stop sends SIGKILL)" $sysctr stop hello
step "   the unit is inactive, not failed" systemctl show -p ActiveState,Result hello.service
step "   no runc container is left" runc list
step "9. uninstall" $sysctr uninstall hello
say "   nothing left"
left=$(inside sh -c 'ls -d /etc/systemd/system/hello.service* /etc/tmpfiles.d/hello.conf /var/lib/containers/sysctr/hello* 2>/dev/null')
[ -z "$left" ] || die "left behind: $left"
echo "no unit, drop-in, tmpfiles conf or deployment left"

say "demo passed"
