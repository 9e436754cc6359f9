import type { CommandModule } from 'yargs';
import { list } from './containers-list.js';
import { info, rollback, update } from './containers-update.js';

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule = {
  builder: (y) =>
    y
      .command(list)
      .command(update)
      .command(rollback)
      .command(info)
      .demandCommand(1, 'name a containers command: list, update, rollback, info') as never,
  handler: () => {},
};
export default cmd;
