import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'lint <dir..>',
  describe: 'check an image source directory',
  handler: () => {
    throw new SysctrError('lint <dir..>: not implemented yet');
  },
};
export default cmd;
