/**
 * Every command through yargs (cli/main.ts runs plain `containers list` itself). Each command's
 * module loads only when it runs (cli/commands/index.ts) and loads the lib/ modules it needs lazily,
 * so that `--help` starts fast.
 */
import { createRequire } from 'node:module';
import type YargsFactory from 'yargs/yargs';
import { commands, loadAllCommands } from './commands/index.js';
import { reportError } from './context.js';
import { splitRunArgv } from './run-argv.js';

// yargs' CommonJS build is one bundled file: it loads ~65 ms faster than its ESM build, on every command.
// yargs/yargs: the factory alone ('yargs' also builds a singleton instance from process.argv).
const require = createRequire(import.meta.url);
const yargs = require('yargs/yargs') as typeof YargsFactory;

export async function runYargs(argv: string[]): Promise<void> {
  if (argv.includes('--get-yargs-completions')) await loadAllCommands();
  // run's command words never reach yargs (cli/run-argv.ts); its handler gets them as `command`
  const run = splitRunArgv(argv);
  let cli = yargs(run.argv)
    .scriptName('sysctr')
    // --registries.d is skopeo's spelling: a flag name, not yargs' nested "registries" object
    .parserConfiguration({ 'dot-notation': false })
    .usage('$0 <command> [options]\n\nInstall OCI images as read-only system services run by runc under systemd.')
    .option('root', { type: 'string', describe: 'state root (store and deployments); env SYSCTR_ROOT', global: true })
    .option('signature-policy', { type: 'string', describe: 'the containers-policy.json(5) to enforce (default /etc/containers/policy.json)', global: true })
    .option('registries.d', { type: 'string', describe: 'directory of containers-registries.d(5) files: where signatures are (default /etc/containers/registries.d)', global: true })
    .option('registries-conf', { type: 'string', describe: 'the containers-registries.conf(5) for mirrors, blocked registries and short names (default /etc/containers/registries.conf and registries.conf.d/)', global: true })
    .option('debug', { type: 'boolean', describe: 'print stack traces', global: true, hidden: true })
    .example('$0 pull oci-archive:./etcd.tar', 'import an image into the store')
    .example('$0 install --system --name etcd --set PORT=2379 --now etcd:3.5', 'install and start a service')
    .example('$0 containers update --rebase etcd:3.6 etcd', 'deploy a new image beside the live one and switch')
    .example('$0 lint ./etcd-image/', 'check an image source directory')
    .completion('completion', 'print a bash/zsh completion script (source <(sysctr completion))')
    .demandCommand(1, 'name a command (sysctr --help lists them)')
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs' own validation errors (YError) are usage errors; anything else came from a handler.
      if (err && err.name !== 'YError') throw err;
      msg ||= err?.message ?? 'usage error';
      process.stderr.write(`sysctr: ${msg}\n(see: sysctr --help)\n`);
      process.exit(2);
    });

  for (const c of commands) cli = cli.command(c);

  try {
    await cli.parseAsync(run.argv, run.command.length ? { command: run.command } : {});
  } catch (err) {
    // a nested command's failed check rejects with its message: a usage error
    if (typeof err === 'string') {
      process.stderr.write(`sysctr: ${err}\n(see: sysctr --help)\n`);
      process.exitCode = 2;
    } else process.exitCode = reportError(err, run.argv.includes('--debug'));
  }
}
