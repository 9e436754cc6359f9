/**
 * STUB (to be implemented by the runtime/systemd work): the EXEC_* values a unit runs.
 * Signature is fixed; render code calls it.
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
}

export function execCommands(o: ExecOptions): ExecCommands {
  return {
    EXEC_START: o.detached ? `${o.runtime} run -d --pid-file ${o.pidfile} ${o.name}` : `${o.runtime} run ${o.name}`,
    EXEC_STOP: o.detached ? '' : `${o.runtime} kill ${o.name}`,
    EXEC_STARTPRE: '',
    EXEC_STOPPOST: `${o.runtime} delete -f ${o.name}`,
  };
}
