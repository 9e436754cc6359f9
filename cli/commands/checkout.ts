import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'checkout <image> <dir>',
  describe: 'write an image root filesystem into DIR',
  handler: () => {
    throw new SysctrError('checkout <image> <dir>: not implemented yet');
  },
};
export default cmd;
