import type { CommandModule } from 'yargs';
import { usageError } from '../../lib/errors.js';

interface LintArgs {
  dir: string[];
  format: string;
  strict: boolean;
  systemd: boolean;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, LintArgs> = {
  builder: (y) =>
    y
      .positional('dir', { type: 'string', array: true, demandOption: true, describe: 'image source directories' })
      .option('format', { type: 'string', default: 'text', describe: 'text or json' })
      .option('strict', { type: 'boolean', default: false, describe: 'exit 1 on warnings too' })
      .option('systemd', { type: 'boolean', default: true, describe: 'run systemd-analyze verify on the rendered unit (--no-systemd to skip)' })
      .example('$0 lint ./etcd/', 'check one image directory')
      .example('$0 lint --format json --no-systemd images/*/', 'for CI'),
  handler: async (args) => {
    if (args.format !== 'text' && args.format !== 'json') throw usageError(`--format ${args.format}: use text or json`);
    const { lint, formatText, formatJson, exitCode } = await import('../../lib/lint/index.js');
    const result = await lint(args.dir.map(String), { noSystemd: !args.systemd });
    process.stdout.write(args.format === 'json' ? formatJson(result) : formatText(result));
    process.exitCode = exitCode(result, args.strict);
  },
};
export default cmd;
