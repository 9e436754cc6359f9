import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'install <image>',
  describe: 'install an image as a system container',
  handler: () => {
    throw new SysctrError('install <image>: not implemented yet');
  },
};
export default cmd;
