# Sourced by demo/run.sh and bench/*.sh: boot a throw-away systemd with systemd-nspawn (as test/helpers/nspawn.ts does)
# and run commands in it (own loopback: --private-network, so ports never clash with the host's). Defines machine_boot SCRATCH [BIND...], inside CMD..., machine_kill.
# The caller must `trap machine_kill EXIT`.
nspawn_pid=
leader=

machine_boot() {
  local scratch=$1; shift
  local binds=() b
  for b in "$@"; do binds+=("--bind=$b"); done
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 SYSTEMD_SECCOMP=0 systemd-nspawn --boot --directory=/ --volatile=yes \
    --machine="sysctr-$$-$RANDOM" --register=no --keep-unit --capability=all --private-network \
    --bind="$scratch" "${binds[@]}" systemd.firstboot=off \
    systemd.mask=systemd-networkd-wait-online.service >"$scratch/nspawn.log" 2>&1 </dev/null &
  nspawn_pid=$!
  # (wait-online is masked: it holds is-system-running at "starting" for two minutes)
  local state= c
  for _ in $(seq 1 240); do
    if [ -z "$leader" ]; then
      for c in $(cat "/proc/$nspawn_pid/task/$nspawn_pid/children" 2>/dev/null); do
        case "$( { tr "\0" " " <"/proc/$c/cmdline"; } 2>/dev/null)" in */systemd\ *) leader=$c ;; esac
      done
    fi
    if [ -n "$leader" ]; then
      state=$(nsenter --target "$leader" --all systemctl is-system-running 2>/dev/null) || true
      case "$state" in running|degraded) return 0 ;; esac
    fi
    kill -0 "$nspawn_pid" 2>/dev/null || { cat "$scratch/nspawn.log" >&2; return 1; }
    sleep 0.25
  done
  return 1
}

inside() {
  nsenter --target "$leader" --all -- env -i --chdir=/ PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}

machine_kill() {
  # `wait` reports the SIGKILL (137): under set -e that must not become the caller's exit status
  if [ -n "$leader" ]; then kill -KILL "$leader" 2>/dev/null || true; fi
  if [ -n "$nspawn_pid" ]; then
    kill -KILL "$nspawn_pid" 2>/dev/null || true
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  leader= nspawn_pid=
}
