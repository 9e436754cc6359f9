import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { printJson } from '../output.js';
import { checkTimeout, registryOptions, registrySourceOptions, type RegistryArgs } from './registry-options.js';

interface VerifyArgs extends GlobalArgs, RegistryArgs {
  image: string;
  offline?: boolean;
  json?: boolean;
}

/** `images verify IMAGE`: the policy in force now, on the image's signatures as its source has them now. */
export const verify: CommandModule<GlobalArgs, VerifyArgs> = {
  command: 'verify <image>',
  describe: 'check a stored image against the signature policy in force now (exit 1 when refused)',
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true })
      .option('offline', { type: 'boolean', describe: 'use the signatures recorded at pull instead of fetching them again' })
      .option('json', { type: 'boolean', describe: 'print the verdict as JSON' })
      .options(registryOptions)
      .check(checkTimeout)
      .example('$0 images verify registry.example.org/app:1', 'fetch its signatures again and check them')
      .example('$0 --signature-policy ./strict.json images verify --offline app:1', 'what another policy says'),
  handler: async (args) => {
    const { Store } = await import('../../lib/store/store.js');
    const { verifyStoredImage, trustRecordOf, layoutSourceOf } = await import('../../lib/image/trust.js');
    const { describeVerdict } = await import('../../lib/trust/record.js');
    const paths = pathsFrom(args);
    const store = Store.open(paths.store);
    const { resolveImage } = await import('../../lib/image/find.js');
    const rec = await store.read((view) => resolveImage(view, args.image));
    const { openSource, parseSource } = await import('../../lib/image/source.js');
    const transport = trustRecordOf(rec)?.subject.transport ?? parseSource(rec.source).transport;
    // the source is read again (signatures may have been added or removed); docker-archive carries none
    let src;
    const layout = layoutSourceOf(rec);
    if (!args.offline && transport === 'docker') src = await openSource(rec.source, registrySourceOptions(args));
    else if (!args.offline && layout) {
      // a layout or archive is often gone after the pull: then what it held at pull is what there is
      src = await openSource(layout).catch((err: Error) => {
        process.stderr.write(`sysctr: ${layout}: cannot read it again (${err.message}): checking the signatures recorded at pull\n`);
        return undefined;
      });
    }
    try {
      const v = await verifyStoredImage(rec, paths.trust, src);
      if (args.json) printJson(v);
      else process.stdout.write(`${rec.name}: ${describeVerdict(v).join('\n')}\n`);
      if (!v.accepted) process.exitCode = 1;
    } finally {
      await src?.close();
    }
  },
};
