import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'render <source>',
  describe: 'print what install would write',
  handler: () => {
    throw new SysctrError('render <source>: not implemented yet');
  },
};
export default cmd;
