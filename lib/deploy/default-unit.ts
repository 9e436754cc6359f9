/**
 * The unit used when an image has no service.template. Kept simple: the runtime commands sysctr
 * generates, restarted on failure, working directory the deployment.
 */

export interface DefaultUnitOptions {
  /** user mode: wanted by default.target instead of multi-user.target */
  user?: boolean;
}

export function defaultUnit(values: Record<string, string>, opts: DefaultUnitOptions = {}): string {
  const line = (key: string, v: string | undefined) => (v ? [`${key}=${v}`] : []);
  return [
    '[Unit]',
    `Description=sysctr container ${values.NAME}`,
    ...(opts.user ? [] : ['After=network.target']),
    '',
    '[Service]',
    ...line('ExecStartPre', values.EXEC_STARTPRE),
    ...line('ExecStart', values.EXEC_START),
    ...line('ExecStop', values.EXEC_STOP),
    ...line('ExecStopPost', values.EXEC_STOPPOST),
    'Restart=on-failure',
    `WorkingDirectory=${values.DESTDIR}`,
    '',
    '[Install]',
    `WantedBy=${opts.user ? 'default.target' : 'multi-user.target'}`,
    '',
  ].join('\n');
}
