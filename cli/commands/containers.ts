import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'containers',
  describe: 'list, update and roll back installed containers',
  handler: () => {
    throw new SysctrError('containers: not implemented yet');
  },
};
export default cmd;
