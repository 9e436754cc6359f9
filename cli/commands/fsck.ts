import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'fsck',
  describe: 'verify every object in the store',
  handler: () => {
    throw new SysctrError('fsck: not implemented yet');
  },
};
export default cmd;
