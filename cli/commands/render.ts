import type { CommandModule } from 'yargs';
import { pathsFrom, printWarning, type GlobalArgs } from '../context.js';

interface RenderArgs extends GlobalArgs {
  source: string;
  name?: string;
  set?: string | string[];
  out?: string;
  runtime?: string;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, RenderArgs> = {
  builder: (y) =>
    y
      .positional('source', { type: 'string', demandOption: true, describe: 'an image source directory, or an image in the store' })
      .option('name', { type: 'string', describe: 'container name (default: the directory or image name)' })
      .option('set', { type: 'string', describe: 'set a template variable: --set NAME=VALUE (repeatable)' })
      .option('out', { type: 'string', describe: 'write the files into this directory instead of printing them' })
      .option('runtime', { type: 'string', describe: 'OCI runtime (default: runc from PATH)' })
      .option('user', { type: 'boolean', describe: 'user mode (paths under $HOME, systemctl --user)' })
      .example('$0 render ./etcd-image/', 'what install would write for this image source')
      .example('$0 render --set PORT=9090 --out /tmp/r etcd:3.5', 'write the files of a stored image into /tmp/r'),
  handler: async (args) => {
    const { parseSetArgs } = await import('../../lib/template/values.js');
    const { renderSource } = await import('../../lib/deploy/render.js');
    const set = parseSetArgs(([] as unknown[]).concat(args.set ?? []).map(String));
    const r = await renderSource(args.source, { name: args.name, set, runtime: args.runtime, paths: pathsFrom(args) });
    for (const w of r.rendered.warnings) printWarning(w);
    if (args.out) {
      const fs = await import('node:fs');
      const path = await import('node:path');
      for (const [file, content] of r.files) {
        fs.mkdirSync(path.dirname(path.join(args.out, file)), { recursive: true });
        fs.writeFileSync(path.join(args.out, file), content);
      }
      process.stdout.write(r.files.map(([f]) => path.join(args.out!, f)).join('\n') + '\n');
      return;
    }
    process.stdout.write(r.files.map(([f, content]) => `==> ${f} <==\n${content}${content.endsWith('\n') ? '' : '\n'}`).join('\n'));
    const copied = r.hostFiles.filter((h) => !h.template);
    if (copied.length) process.stdout.write(`\n==> host files copied as they are <==\n${copied.map((h) => `${h.path} <- hostfs${h.source}${h.type === 'l' ? ` (symlink to ${h.link})` : h.type === 'd' ? ' (directory)' : ''}\n`).join('')}`);
  },
};
export default cmd;
