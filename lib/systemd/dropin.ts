/**
 * The drop-in sysctr writes beside every unit it installs (UNIT_DIR/NAME.service.d/sysctr.conf),
 * from templates/sysctr-dropin.conf.mustache with the values worked out here. It makes any unit - the default one, or an image's own service.template - stop a container whose
 * PID 1 ignores SIGTERM and end `inactive`, not `failed` (docs/runtime.md has the measurements):
 *
 * - SuccessExitStatus: after the grace period the stop script SIGKILLs the container's init; the
 *   unit's main process then ends with 137 (attached `runc run`) or by SIGKILL (forking: the
 *   container's init itself). Both are the expected end of a stop, not a failure.
 * - ExecStop: the stop script, added only when the unit does not already run it through $EXEC_STOP
 *   (an image's unit may have a bare `runc kill NAME`, or nothing).
 * - ExecStopPost: `runc delete -f NAME`, so no runc state is left whatever the unit says.
 * - Type=forking + PIDFile for the detached (`--pid-file`) form: Atomic's images set PIDFile only.
 * - TimeoutStopSec: longer than the stop script can take (a container still being created, its
 *   minimum uptime, the grace period), so systemd never has to time out itself.
 * - Delegate=yes for a user's container: rootless runc makes the container's cgroup inside the
 *   unit's (lib/runtime/rootless.ts), which the user manager then leaves alone.
 */
import { renderShipped } from '../template/mustache.js';
import { parseUnitFile } from './unit-file.js';
import { CREATE_WAIT_SECONDS, DEFAULT_STOP_MIN_UPTIME, DEFAULT_STOP_TIMEOUT, runtimeCommand, stopCommand } from '../runtime/commands.js';

export { DROPIN_NAME, MANAGED_HEADER } from './managed.js';

export interface DropInInput {
  name: string;
  runtime: string;
  /** the unit as rendered, to see whether it already runs the stop script */
  unit: string;
  /** the detached (--pid-file) form */
  detached: boolean;
  pidfile: string;
  /** seconds between SIGTERM and SIGKILL */
  stopTimeout?: number;
  /** seconds a container runs before it is sent SIGTERM (its program's handlers set up) */
  stopMinUptime?: number;
  /** a user's container (lib/paths.ts runcRoot): runc's --root, and Delegate=yes for its cgroup */
  runcRoot?: string;
}

/** Seconds from `--set SYSCTR_STOP_TIMEOUT=N`, or the default. */
export function stopTimeoutFrom(values: Record<string, string>): number {
  const raw = values.SYSCTR_STOP_TIMEOUT;
  if (raw === undefined) return DEFAULT_STOP_TIMEOUT;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 && n <= 3600 ? n : DEFAULT_STOP_TIMEOUT;
}

/** Seconds from `--set SYSCTR_STOP_MIN_UPTIME=N`, or the default. */
export function stopMinUptimeFrom(values: Record<string, string>): number {
  const raw = values.SYSCTR_STOP_MIN_UPTIME;
  if (raw === undefined) return DEFAULT_STOP_MIN_UPTIME;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 && n <= 600 ? n : DEFAULT_STOP_MIN_UPTIME;
}

/** The drop-in's text, from templates/sysctr-dropin.conf.mustache. */
export function renderDropIn(d: DropInInput): string {
  const stopTimeout = d.stopTimeout ?? DEFAULT_STOP_TIMEOUT;
  const stopMinUptime = d.stopMinUptime ?? DEFAULT_STOP_MIN_UPTIME;
  const stop = stopCommand(d.runtime, d.name, d.runcRoot);
  return renderShipped('sysctr-dropin.conf.mustache', {
    name: d.name,
    runtime: runtimeCommand(d.runtime, d.runcRoot),
    delegate: d.runcRoot !== undefined,
    detached: d.detached,
    pidfile: d.pidfile,
    stopTimeout,
    stopMinUptime,
    timeoutStopSec: CREATE_WAIT_SECONDS + stopMinUptime + stopTimeout + 15,
    execStop: unitRunsStop(d.unit, stop) ? '' : stop,
  });
}

/**
 * Whether the unit's own [Service] section has an ExecStop= that runs the stop script, read as
 * systemd reads it (lib/systemd/unit-file.ts): `# ExecStop=$EXEC_STOP`, the script named in a
 * Description, or an ExecStop= that a later empty `ExecStop=` cancels do not count.
 */
export function unitRunsStop(unit: string, stop: string): boolean {
  return parseUnitFile(unit).getAll('Service', 'ExecStop').some((v) => v.includes(stop));
}
