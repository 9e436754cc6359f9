import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

export const start: CommandModule = {
  command: 'start <name>',
  describe: 'start an installed container (systemctl start)',
  handler: () => {
    throw new SysctrError('start: not implemented yet');
  },
};
export const stop: CommandModule = {
  command: 'stop <name>',
  describe: 'stop an installed container (systemctl stop)',
  handler: () => {
    throw new SysctrError('stop: not implemented yet');
  },
};
