import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { storeUserOption } from './host-options.js';

export interface CheckoutArgs extends GlobalArgs {
  image: string;
  dir: string;
  json?: boolean;
}

const cmd: CommandModule<GlobalArgs, CheckoutArgs> = {
  command: 'checkout <image> <dir>',
  describe: "write an image's root filesystem into DIR (files hardlinked from the store)",
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true })
      .positional('dir', { type: 'string', demandOption: true, describe: 'a new or empty directory' })
      .option('json', { type: 'boolean', describe: 'print the counts as JSON' })
      .option('user', storeUserOption)
      .example('$0 checkout demo:1 /tmp/rootfs', 'a read-only-by-convention hardlinked tree'),
  handler: (args) => runCheckout(args),
};
export default cmd;

/** The command's work; cli/main.ts calls it directly for plain command lines (cli/plain-argv.ts). */
export async function runCheckout(args: CheckoutArgs): Promise<void> {
  const { Store } = await import('../../lib/store/store.js');
  const { checkout } = await import('../../lib/rootfs/checkout.js');
  const store = Store.open(pathsFrom(args).store);
  const { resolveImage } = await import('../../lib/image/find.js');
  const { image, stats: s } = await checkout(store, (view) => resolveImage(view, args.image), args.dir);
  if (args.json) process.stdout.write(JSON.stringify({ image: image.name, id: image.id, dir: args.dir, ...s }, null, 2) + '\n');
  else {
    process.stdout.write(
      `checked out ${image.name} into ${args.dir}: ${s.files} files (${s.linked} hardlinked, ${s.copied} copied), ${s.dirs} directories, ${s.symlinks} symlinks` +
        (s.skipped ? `; ${s.skipped} device nodes/fifos/sockets skipped` : '') +
        (s.files > 1 && s.linked === 0 && s.copied === s.files ? ' (copied: the directory is on another filesystem than the store)' : '') +
        '\n',
    );
  }
}
