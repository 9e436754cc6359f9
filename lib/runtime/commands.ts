/**
 * The EXEC_* values a unit runs (docs/runtime.md). Render code calls execCommands(); the signature is fixed.
 *
 * Stopping: a PID-namespace init only receives the signals it has handlers for (SIGKILL aside), so
 * `runc kill NAME` (SIGTERM) does not stop busybox `httpd -f`, `sh` or `sleep` as PID 1. EXEC_STOP is
 * therefore a small shell script: SIGTERM, wait up to SYSCTR_STOP_TIMEOUT seconds (default 10) while
 * the container is alive, then SIGKILL, and wait for it to go. It exits 0 when the container is
 * already gone, so a service that ended on its own does not fail in ExecStop. The drop-in written
 * beside every unit (lib/systemd/dropin.ts) makes the SIGKILL exit statuses clean and deletes the
 * runc state; docs/runtime.md has the measurements behind this.
 */

export interface ExecCommands {
  EXEC_START: string;
  EXEC_STOP: string;
  EXEC_STARTPRE: string;
  EXEC_STOPPOST: string;
}

export interface ExecOptions {
  name: string;
  /** path of the OCI runtime binary */
  runtime: string;
  /** deployment dir (the bundle) */
  destdir: string;
  /** detached form: runc run -d --pid-file PIDFILE (unit template uses PIDFILE and EXEC_STOPPOST) */
  detached: boolean;
  pidfile: string;
  /** runc's state directory for a user's containers (--root); undefined: runc's default */
  runcRoot?: string;
}

/** Seconds a container gets between SIGTERM and SIGKILL unless SYSCTR_STOP_TIMEOUT says otherwise. */
export const DEFAULT_STOP_TIMEOUT = 10;

/** Seconds a container must have run before it is sent SIGTERM, unless SYSCTR_STOP_MIN_UPTIME says otherwise. */
export const DEFAULT_STOP_MIN_UPTIME = 3;

/** The longest the stop script waits for a container that `runc run` is still creating. */
export const CREATE_WAIT_SECONDS = 10;

/**
 * The stop script, written for a systemd Exec line: `$$` is how a unit spells a literal `$`, so the
 * shell sees `$r`, `${SYSCTR_STOP_TIMEOUT:-10}` and so on; no backslash, `%` or single quote inside.
 * Runtime and name come in as $1 and $2; $1 may carry the runtime's options (`runc --root DIR`),
 * split by the shell where `$r` stands unquoted. `runc kill NAME 0` succeeds only while the container's
 * init is alive: the liveness probe.
 *
 * A stop soon after a start (a rollback or update restarts the service and returns; a user types
 * start then stop) meets a container in its start-up:
 * - not created yet: `runc run` (the unit's $MAINPID) is still setting it up. The script waits for
 *   it rather than taking it for gone; had it exited 0, systemd's own SIGTERM would reach runc,
 *   which hands it to the starting init, and the stop ends in systemd's timeout.
 * - created, but its program has no SIGTERM handler yet. As PID 1 of a PID namespace it cannot die
 *   of the signal: a shell ignores it (SIGKILL after the grace period), and a Go program's runtime
 *   (etcd before its handler is set, up to a few seconds into a start) exits with status 2, which
 *   leaves the unit `failed`. So SIGTERM waits until the init has run SYSCTR_STOP_MIN_UPTIME seconds
 *   (its start time in /proc/PID/stat against /proc/uptime). Sending it once only matters too: a Go
 *   program that stops listening after the first SIGTERM gets the same exit 2 from a second one.
 */
const STOP_SCRIPT = [
  'r=$$1 n=$$2 t=$${SYSCTR_STOP_TIMEOUT:-' + DEFAULT_STOP_TIMEOUT + '} u=$${SYSCTR_STOP_MIN_UPTIME:-' + DEFAULT_STOP_MIN_UPTIME + '} i=0',
  `while ! $$r kill $$n 0 2>/dev/null; do [ -n "$\${MAINPID:-}" ] && [ $$i -lt ${CREATE_WAIT_SECONDS * 10} ] && kill -0 $$MAINPID 2>/dev/null || exit 0; sleep 0.1; i=$$((i+1)); done`,
  'p=$$($$r state $$n 2>/dev/null | grep -o "pid.: *[0-9]*" | tr -dc 0-9)',
  'if [ -n "$$p" ] && [ -r /proc/$$p/stat ]; then s=$$(sed "s/.*) //" /proc/$$p/stat | cut -d" " -f20); hz=$$(getconf CLK_TCK 2>/dev/null || echo 100); read up x < /proc/uptime; up=$$(echo $$up | tr -d .); w=$$((u*100 - (up - s*100/hz))); fi',
  'if [ "$${w:-0}" -gt 0 ]; then echo "$$n started less than $${u}s ago: SIGTERM once it has run $${u}s" >&2; fi',
  'while [ "$${w:-0}" -gt 0 ] && $$r kill $$n 0 2>/dev/null; do sleep 0.2; w=$$((w-20)); done; i=0',
  '$$r kill $$n TERM 2>/dev/null || exit 0',
  'while [ $$i -lt $$((t*5)) ] && $$r kill $$n 0 2>/dev/null; do sleep 0.2; i=$$((i+1)); done',
  '$$r kill $$n 0 2>/dev/null || exit 0',
  'echo "$$n ignored SIGTERM for $${t}s: sending SIGKILL" >&2',
  '$$r kill $$n KILL 2>/dev/null; i=0',
  'while [ $$i -lt 50 ] && $$r kill $$n 0 2>/dev/null; do sleep 0.1; i=$$((i+1)); done',
  'exit 0',
].join('; ');

/** The stop command line (unit syntax): TERM, grace period, KILL; 0 when the container is gone. */
export function stopCommand(runtime: string, name: string, runcRoot?: string): string {
  const r = runcRoot ? `"${runtimeCommand(runtime, runcRoot)}"` : runtime;
  return `/bin/sh -c '${STOP_SCRIPT}' sysctr-stop ${r} ${name}`;
}

/** The runtime with its global options: `runc --root DIR` for a user's containers (lib/paths.ts runcRoot). */
export function runtimeCommand(runtime: string, runcRoot?: string): string {
  return runcRoot ? `${runtime} --root ${runcRoot}` : runtime;
}

/** The same script for running directly (no unit `$$` escaping), e.g. by `sysctr stop` fallbacks and tests. */
export function stopScriptForShell(): string {
  return STOP_SCRIPT.replaceAll('$$', '$');
}

export function execCommands(o: ExecOptions): ExecCommands {
  const rt = runtimeCommand(o.runtime, o.runcRoot);
  return {
    EXEC_START: o.detached ? `${rt} run -d --pid-file ${o.pidfile} ${o.name}` : `${rt} run ${o.name}`,
    EXEC_STOP: stopCommand(o.runtime, o.name, o.runcRoot),
    // a container left from a crash or a reboot without /run cleanup would make `runc run` refuse
    EXEC_STARTPRE: `${rt} delete -f ${o.name}`,
    EXEC_STOPPOST: `${rt} delete -f ${o.name}`,
  };
}
