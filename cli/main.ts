#!/usr/bin/env -S node --max-semi-space-size=4
// (a small young generation keeps peak memory flat while importing huge layers, at no cost in speed)
/**
 * sysctr's entry point. A plain `containers list` or `checkout` runs straight away (cli/plain-argv.ts);
 * every other command line goes through yargs (cli/yargs-cli.ts), loaded only then.
 */
import { plainCheckoutArgs, plainListArgs } from './plain-argv.js';

// Modes are sysctr's choice, not the caller's: with umask 000 its directories would be writable
// by anyone. Files that must be private are created 0600 and directories 0700 explicitly.
process.umask(0o022);

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
const checkoutArgs = listArgs ? undefined : plainCheckoutArgs(argv);
if (listArgs || checkoutArgs) {
  try {
    if (listArgs) await (await import('./commands/containers-list.js')).runList(listArgs);
    else await (await import('./commands/checkout.js')).runCheckout(checkoutArgs!);
  } catch (err) {
    // as the yargs path reports a handler's error
    process.exitCode = (await import('./context.js')).reportError(err, argv.includes('--debug'));
  }
} else {
  await (await import('./yargs-cli.js')).runYargs(argv);
}
