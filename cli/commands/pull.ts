import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'pull <source>',
  describe: 'bring an image into the store',
  handler: () => {
    throw new SysctrError('pull <source>: not implemented yet');
  },
};
export default cmd;
