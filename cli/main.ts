#!/usr/bin/env -S node --max-semi-space-size=4
// (a small young generation keeps peak memory flat while importing huge layers, at no cost in speed)
/**
 * sysctr's entry point. A plain `containers list` runs straight away (cli/list-argv.ts); every other
 * command line goes through yargs (cli/yargs-cli.ts), loaded only then.
 */
import { plainListArgs } from './list-argv.js';

// what yargs' hideBin returns under node: the arguments after the script
const argv = process.argv.slice(2);

// `sysctr ... | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const listArgs = plainListArgs(argv);
if (listArgs) {
  const { runList } = await import('./commands/containers-list.js');
  try {
    await runList(listArgs);
  } catch (err) {
    // as the yargs path reports a handler's error
    process.exitCode = (await import('./context.js')).reportError(err, argv.includes('--debug'));
  }
} else {
  await (await import('./yargs-cli.js')).runYargs(argv);
}
