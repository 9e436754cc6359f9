import type { CommandModule } from 'yargs';
import { SysctrError } from '../../lib/errors.js';

const cmd: CommandModule = {
  command: 'images',
  describe: 'list, inspect, tag, delete and prune images',
  handler: () => {
    throw new SysctrError('images: not implemented yet');
  },
};
export default cmd;
