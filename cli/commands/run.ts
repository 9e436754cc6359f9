import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'run <name> [cmd..]',
  describe: 'run a command in a container',
  handler: () => {
    throw new SysctrError('run <name> [cmd..]: not implemented yet');
  },
};
export default cmd;
