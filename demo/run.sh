#!/usr/bin/env bash
# The sysctr demo, the whole life of a service: lint the example image's source directory
# (fixtures/images/example), build a 1.0 and a 2.0 of it, boot a throw-away systemd with
# systemd-nspawn (the host's services are never touched: / is volatile in there), and inside it
# pull -> install -> start -> HTTP answer -> update to 2.0 (the answer changes) -> rollback (it
# changes back) -> stop (inactive, not failed) -> uninstall (nothing left). Each step is printed and
# checked; the demo exits non-zero at the first failure and always kills the machine it booted.
set -uo pipefail
cd "$(dirname "$0")/.."
project=$(pwd)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok() { printf '\033[32mok:\033[0m %s\n' "$*"; }
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

# show CMD...: prints a command line as one would type it (sysctr for the built CLI)
show() {
  local w line=
  for w in "$@"; do
    [[ $w =~ ^[][A-Za-z0-9_./:=@%+,-]+$ ]] || w="'$w'"
    line+=" $w"
  done
  line=${line# }
  printf '$ %s\n' "${line/#node $project\/dist\/cli\/main.js/sysctr}"
}
# step TITLE CMD...: runs CMD in the machine; a failure ends the demo
step() {
  local title=$1; shift
  [ -n "$title" ] && say "$title"
  show "$@"
  inside "$@" || die "${title:-$*}"
}
# expect WHAT GOT WANT: checks a result, prints it
expect() {
  [ "$2" = "$3" ] || die "$1: expected '$3', got '$2'"
  ok "$1: ${2:-(none)}"
}
# answer PATH WANT: asks the service until it gives WANT (it may be starting), up to 10 s
answer() {
  local page=
  for _ in $(seq 1 40); do
    page=$(inside busybox wget -qO- "http://127.0.0.1:8080$1" 2>/dev/null) && [ "$page" = "$2" ] && break
    sleep 0.25
  done
  show wget -qO- "http://127.0.0.1:8080$1"
  expect "HTTP answer" "$page" "$2"
}
state() { inside systemctl show -p ActiveState --value "$name.service"; }

sysctr="node $project/dist/cli/main.js"
name=demo-hello # (a name of its own: machines booted side by side can share units' cgroups)
src=fixtures/images/example

say "1. lint the example image's source directory (before building it)"
show sysctr lint "$src"
$sysctr lint "$src" || die "lint found errors in $src"
ok "no errors"

say "2. build two versions of the example image (busybox httpd + /exports) into one OCI layout"
bash demo/build-image.sh "$src" "$scratch/example" 1.0 >/dev/null || die "building example:1.0 failed"
echo "example:1.0 from $src"
cp -a "$src" "$scratch/src-2.0" && echo "example image 2.0" >"$scratch/src-2.0/rootfs/usr/share/example/version"
bash demo/build-image.sh "$scratch/src-2.0" "$scratch/example" 2.0 >/dev/null || die "building example:2.0 failed"
echo "example:2.0 from a copy of it, $scratch/src-2.0, with one file of the image changed:"
diff -r "$src" "$scratch/src-2.0"

say "3. boot a throw-away systemd with systemd-nspawn"
machine_boot "$scratch" "$project" || die "systemd did not boot"
echo "systemd is up (machine leader pid $leader); the host's services are not touched"

step "4. pull example:1.0 into sysctr's store" $sysctr pull "oci:$scratch/example:1.0"
step "5. install it as a system service (with --set)" $sysctr install --name $name --set PORT=8080 --set "MESSAGE=Hello from the sysctr demo" --set SYSCTR_STOP_TIMEOUT=2 example:1.0
step "   the unit sysctr wrote, with its drop-in" systemctl cat $name.service
step "6. start it" $sysctr start $name
expect "unit state" "$(state)" active
say "7. ask the service over HTTP"
answer / "Hello from the sysctr demo"
answer /version.txt "example image 1.0"
step "8. list containers" $sysctr containers list

step "9. pull example:2.0" $sysctr pull "oci:$scratch/example:2.0"
step "10. update to it: $name.1 is checked out beside $name.0, the service restarts from it" $sysctr containers update --rebase example:2.0 $name
expect "unit state" "$(state)" active
answer /version.txt "example image 2.0"
answer / "Hello from the sysctr demo"
echo "(the --set values were kept; the image's content changed)"
show $sysctr containers list
list=$(inside $sysctr containers list) || die "containers list failed"
echo "$list"
grep -Eq "^$name +localhost/example:2\.0 .* $name\.1 +$name\.0 localhost/example:1\.0\$" <<<"$list" || die "containers list does not show 2.0 live and 1.0 as the rollback"
ok "2.0 is live, 1.0 is the rollback"

step "11. roll back: the service restarts from $name.0 (its unit restored, nothing re-rendered)" $sysctr containers rollback $name
expect "unit state" "$(state)" active
answer /version.txt "example image 1.0"

step "12. stop it (httpd ignores SIGTERM as PID 1: after a 2 s grace period sysctr's stop sends SIGKILL)" $sysctr stop $name
step "   the unit is inactive, not failed" systemctl show -p ActiveState,Result $name.service
expect "ActiveState" "$(state)" inactive
expect "Result" "$(inside systemctl show -p Result --value "$name.service")" success
expect "runc containers left" "$(inside runc list -q)" ""

step "13. uninstall" $sysctr uninstall $name
left=$(inside sh -c "ls -d /etc/systemd/system/$name.service* /etc/systemd/system/*/$name.service /etc/tmpfiles.d/$name.conf /var/lib/containers/sysctr/$name* /var/lib/containers/sysctr/.$name* 2>/dev/null")
[ -z "$left" ] || die "left behind: $left"
expect "unit" "$(inside systemctl show -p LoadState --value "$name.service")" not-found
ok "no unit, drop-in, enablement link, tmpfiles conf or deployment left"

say "demo passed in ${SECONDS} s"
