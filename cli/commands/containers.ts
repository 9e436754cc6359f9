import type { CommandModule } from 'yargs';
import { list } from './containers-list.js';
import { info, rollback, update } from './containers-update.js';

const cmd: CommandModule = {
  command: 'containers <command>',
  describe: 'list, update and roll back installed containers',
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
