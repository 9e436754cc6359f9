/**
 * The unit used when an image has no service.template: templates/default.service.mustache with the
 * runtime commands sysctr generates, the deployment as working directory, wanted by
 * multi-user.target (user mode: default.target, and no network.target to order after).
 */
import { renderShipped } from '../template/mustache.js';

export interface DefaultUnitOptions {
  /** user mode: wanted by default.target instead of multi-user.target */
  user?: boolean;
}

export function defaultUnit(values: Record<string, string>, opts: DefaultUnitOptions = {}): string {
  return renderShipped('default.service.mustache', {
    NAME: values.NAME,
    DESTDIR: values.DESTDIR,
    // an empty or missing command: no line for it
    EXEC_STARTPRE: values.EXEC_STARTPRE ?? '',
    EXEC_START: values.EXEC_START ?? '',
    EXEC_STOP: values.EXEC_STOP ?? '',
    EXEC_STOPPOST: values.EXEC_STOPPOST ?? '',
    user: Boolean(opts.user),
    wantedBy: opts.user ? 'default.target' : 'multi-user.target',
  });
}
