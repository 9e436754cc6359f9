import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'uninstall <name>',
  describe: 'remove an installed container',
  handler: () => {
    throw new SysctrError('uninstall <name>: not implemented yet');
  },
};
export default cmd;
