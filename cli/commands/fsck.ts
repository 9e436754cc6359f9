import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { storeUserOption } from './host-options.js';

interface FsckArgs extends GlobalArgs {
  repair?: boolean;
  json?: boolean;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<GlobalArgs, FsckArgs> = {
  builder: (y) =>
    y
      .option('repair', { type: 'boolean', describe: 'remove damaged objects and the layers and images that depend on them' })
      .option('json', { type: 'boolean', describe: 'print the report as JSON' })
      .option('user', storeUserOption)
      .example('$0 fsck', 'report damage (exit 1 when there is any)')
      .example('$0 fsck --repair && $0 pull ...', 'remove damage, then pull again what was removed'),
  handler: async (args) => {
    const { Store } = await import('../../lib/store/store.js');
    const { fsck } = await import('../../lib/store/gc.js');
    const store = Store.open(pathsFrom(args).store);
    const { flatTreeMatches } = await import('../../lib/rootfs/merged.js');
    const r = await fsck(store, { repair: args.repair, treeMatches: flatTreeMatches });
    if (args.json) {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    } else {
      for (const p of r.problems) {
        process.stdout.write(`${p.kind} ${p.id}: ${p.detail}${p.images.length ? ` (images: ${p.images.join(', ')})` : ''}\n`);
      }
      process.stdout.write(`checked ${r.objects} objects, ${r.layers} layers, ${r.images} images: ${r.problems.length ? `${r.problems.length} problems` : 'no problems'}\n`);
      if (args.repair && r.problems.length) {
        process.stdout.write(
          `removed ${r.removed.objects} objects, ${r.removed.layers} layers, ${r.removed.images.length} images${r.removed.images.length ? ` (${r.removed.images.join(', ')}: pull them again)` : ''}` +
            (r.removed.trees ? `, ${r.removed.trees} merged trees (rebuilt from the layers when needed)` : '') +
            '\n',
        );
      }
    }
    if (r.problems.length && !args.repair) process.exitCode = 1;
  },
};
export default cmd;
