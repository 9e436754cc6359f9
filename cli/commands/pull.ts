import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { storeUserOption } from './host-options.js';
import { checkTimeout, registryOptions, registrySourceOptions, type RegistryArgs } from './registry-options.js';

interface PullArgs extends GlobalArgs, RegistryArgs {
  source: string;
  platform?: string;
  quiet?: boolean;
  json?: boolean;
  'dry-run'?: boolean;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<GlobalArgs, PullArgs> = {
  builder: (y) =>
    y
      .positional('source', { type: 'string', demandOption: true, describe: 'TRANSPORT:LOCATION, or REPO[:TAG] for a registry' })
      .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from a multi-platform image (default: the host)' })
      .options(registryOptions)
      .check(checkTimeout)
      .option('quiet', { alias: 'q', type: 'boolean', describe: 'print nothing but errors' })
      .option('user', storeUserOption)
      .option('json', { type: 'boolean', describe: 'print one JSON object with changed: true|false, and no progress' })
      .option('dry-run', { type: 'boolean', describe: 'read the manifest and config (and ask the signature policy), fetch no layer, store nothing' })
      .example('$0 pull oci:./layout:v1', 'from an OCI layout directory, ref v1')
      .example('$0 pull docker-archive:./etcd.tar', 'from a docker save archive')
      .example('$0 pull docker://registry.example.org/etcd:3.5', 'from a registry')
      .example('$0 pull --platform linux/arm/v7 docker://localhost:5000/app:1 --tls-verify=false', 'another platform, plain HTTP')
      .example('pass | $0 pull --creds-file - docker://registry.example.org/app:1', 'credentials from standard input, not the command line'),
  handler: async (args) => {
    const { Store } = await import('../../lib/store/store.js');
    const { pullImage } = await import('../../lib/image/pull.js');
    const { progressReporter } = await import('../progress.js');
    const store = Store.open(pathsFrom(args).store);
    const reporter = progressReporter({ quiet: !!args.quiet || !!args.json });
    try {
      const r = await pullImage(store, args.source, {
        platform: args.platform,
        trust: pathsFrom(args).trust,
        registriesConf: pathsFrom(args).registriesConf,
        ...registrySourceOptions(args),
        onEvent: reporter.onEvent,
        dryRun: args['dry-run'],
      });
      reporter.stop();
      if (args.json) {
        const { printChange } = await import('../output.js');
        // the store's full name, as install, tag and delete give it
        printChange({ changed: !r.upToDate, dryRun: Boolean(args['dry-run']), image: r.image.name, id: r.image.id, digest: r.image.manifestDigest, layers: r.image.layers.length, fetched: r.fetched });
      } else if (!args.quiet) {
        const { familiarName } = await import('../../lib/image/reference.js');
        const name = familiarName(r.image.name);
        if (r.mirror) process.stdout.write(`${name}: served by mirror ${r.mirror}\n`);
        process.stdout.write(
          r.upToDate ? `${name}: image is up to date (${r.image.id})\n` : r.dryRun ? `${name}: would pull ${r.image.id} (${r.fetched} of ${r.image.layers.length} layers to fetch)\n` : `${name}: pulled ${r.image.id} (${r.fetched} of ${r.image.layers.length} layers fetched)\n`,
        );
      }
    } finally {
      reporter.stop();
    }
  },
};
export default cmd;
