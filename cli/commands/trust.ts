import type { Argv, CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { jsonChangeOption, printChange, printJson } from '../output.js';

const show: CommandModule<GlobalArgs, GlobalArgs & { json?: boolean }> = {
  command: 'show',
  describe: 'the effective signature policy, per scope, with where signatures are looked for',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'print JSON' }),
  handler: async (args) => {
    const { showPolicy, describeRequirement } = await import('../../lib/trust/edit.js');
    const v = showPolicy(pathsFrom(args).trust);
    if (args.json) return printJson(v);
    const out = [v.exists ? `policy: ${v.file}` : `policy: ${v.file} does not exist: every image is accepted`];
    for (const s of v.scopes) {
      const name = s.transport ? `${s.transport} ${s.scope === '' ? '"" (transport default)' : s.scope}` : 'default';
      out.push(`${name.padEnd(40)} ${s.requirements.map(describeRequirement).join(' + ')}`);
      if (s.lookaside?.lookaside) out.push(`${''.padEnd(40)} lookaside ${s.lookaside.lookaside}`);
      if (s.lookaside?.useSigstoreAttachments) out.push(`${''.padEnd(40)} sigstore attachments`);
    }
    process.stdout.write(out.join('\n') + '\n');
  },
};

interface AddArgs extends GlobalArgs {
  scope: string;
  type: 'signedBy' | 'sigstoreSigned' | 'reject' | 'accept';
  pubkeys?: string[];
  lookaside?: string;
  json?: boolean;
  'dry-run'?: boolean;
}

const dryRunOption = { type: 'boolean', describe: 'say whether the files would change, write nothing' } as const;

const add: CommandModule<GlobalArgs, AddArgs> = {
  command: 'add <scope>',
  describe: 'set the requirement for a registry or repository (REGISTRY[:PORT][/REPO])',
  builder: (y) =>
    y
      .positional('scope', { type: 'string', demandOption: true, describe: 'REGISTRY[:PORT][/REPOSITORY]' })
      .option('type', { choices: ['signedBy', 'sigstoreSigned', 'reject', 'accept'] as const, demandOption: true, describe: 'the requirement' })
      .option('pubkeys', { type: 'string', array: true, describe: 'public key file(s): GPG for signedBy, PEM for sigstoreSigned' })
      .option('lookaside', { type: 'string', describe: 'where GPG signatures are (file:// or http(s):// URL), written to registries.d' })
      .option('dry-run', dryRunOption)
      .option('json', jsonChangeOption)
      .example('$0 trust add registry.example.org/team --type signedBy --pubkeys team.gpg --lookaside https://sigs.example.org', 'GPG-signed images only')
      .example('$0 trust add registry.example.org --type sigstoreSigned --pubkeys cosign.pub', 'cosign-signed images only'),
  handler: async (args) => {
    const { addTrust } = await import('../../lib/trust/edit.js');
    const dryRun = Boolean(args['dry-run']);
    const r = addTrust(pathsFrom(args).trust, args.scope, { type: args.type, pubkeys: args.pubkeys, lookaside: args.lookaside, dryRun });
    if (args.json) return printChange({ ...r, dryRun, scope: args.scope, type: args.type });
    process.stdout.write(r.changed ? `${dryRun ? 'would write' : 'wrote'} ${r.policy}${r.registriesFile ? ` and ${r.registriesFile}` : ''}\n` : `${r.policy} already says so: unchanged\n`);
  },
};

const def: CommandModule<GlobalArgs, GlobalArgs & { what: 'accept' | 'reject'; json?: boolean; 'dry-run'?: boolean }> = {
  command: 'default <what>',
  describe: 'what the policy does with images no scope names: accept or reject',
  builder: (y) => y.positional('what', { choices: ['accept', 'reject'] as const, demandOption: true }).option('dry-run', dryRunOption).option('json', jsonChangeOption),
  handler: async (args) => {
    const { setDefault } = await import('../../lib/trust/edit.js');
    const dryRun = Boolean(args['dry-run']);
    const r = setDefault(pathsFrom(args).trust, args.what, { dryRun });
    if (args.json) return printChange({ ...r, dryRun, default: args.what });
    process.stdout.write(r.changed ? `${dryRun ? 'would write' : 'wrote'} ${r.policy}: default ${args.what}\n` : `${r.policy} already says default ${args.what}: unchanged\n`);
  },
};

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<GlobalArgs, GlobalArgs> = {
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('user', { type: 'boolean', global: true, describe: "the user's policy (~/.config/containers/policy.json when it exists, else the system one)" })
      .command(show)
      .command(add)
      .command(def)
      .demandCommand(1, 'name a trust command: show, add, default')
      .example('$0 trust show', 'which images are accepted, per scope')
      .example('$0 --signature-policy ./policy.json trust default reject', 'edit another policy file'),
  handler: () => {},
};
export default cmd;
