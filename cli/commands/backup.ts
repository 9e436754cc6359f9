/** backup NAME / restore FILE (docs/volumes.md): parse, call lib/deploy/backup.ts, print. */
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../context.js';
import { hostOptions, deployContext } from './host-options.js';
import { humanSize, jsonChangeOption, printChange } from '../output.js';


interface BackupArgs extends GlobalArgs {
  name: string;
  output?: string;
  live?: boolean;
  json?: boolean;
  'dry-run'?: boolean;
}

// its command line and description are in commands/index.ts (--help loads no command module)
export const backup: CommandModule<object, BackupArgs> = {
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true })
      .options(hostOptions)
      .option('output', { alias: 'o', type: 'string', describe: 'the backup file (default NAME-TIME.sysctr-backup in this directory)' })
      .option('live', { type: 'boolean', describe: 'do not stop the service while its data is read (the copy may be inconsistent)' })
      .option('dry-run', { type: 'boolean', describe: 'say what would be archived where (and whether the service would be stopped), write nothing' })
      .option('json', jsonChangeOption)
      .example('$0 backup web -o /srv/backups/web.sysctr-backup', 'stop web, archive its data volumes, start it again') as never,
  handler: async (args) => {
    const { backup: doBackup } = await import('../../lib/deploy/backup.js');
    let last = 0;
    // progress on a terminal only: a log or a pipe gets the one line at the end
    const progress = process.stderr.isTTY
      ? (bytes: number, total: number) => {
          if (Date.now() - last < 200) return;
          last = Date.now();
          process.stderr.write(`\r${humanSize(bytes)} of ${humanSize(total)}\u001b[K`);
        }
      : undefined;
    try {
      const r = await doBackup(await deployContext(args), String(args.name), { output: args.output, live: args.live, progress });
      // every backup writes a new file
      if (args.json) printChange({ changed: true, dryRun: Boolean(args['dry-run']), name: String(args.name), ...r });
    } finally {
      if (progress && last) process.stderr.write('\r\u001b[K');
    }
  },
};

interface RestoreArgs extends GlobalArgs {
  file: string;
  name?: string;
  force?: boolean;
  json?: boolean;
  'dry-run'?: boolean;
}

export const restore: CommandModule<object, RestoreArgs> = {
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true })
      .options(hostOptions)
      .option('name', { type: 'string', describe: 'restore as this container (default: the name in the backup)' })
      .option('force', { type: 'boolean', describe: 'replace data volumes that have data in them' })
      .option('dry-run', { type: 'boolean', describe: 'read and check the file, say what would be installed and replaced, change nothing' })
      .option('json', jsonChangeOption)
      .example('$0 restore web.sysctr-backup', 'install web if missing and put its data back')
      .example('$0 restore --name web-copy web.sysctr-backup', 'a second container with the same data') as never,
  handler: async (args) => {
    const { restore: doRestore } = await import('../../lib/deploy/backup.js');
    const r = await doRestore(await deployContext(args), String(args.file), { name: args.name, force: args.force });
    // a restore puts the data back each time (a second one replaces what the service wrote since)
    if (args.json) printChange({ changed: true, dryRun: Boolean(args['dry-run']), ...r });
  },
};
