#!/usr/bin/env node
/**
 * sysctr's entry point. A plain `containers list` or `checkout` runs straight away (cli/plain-argv.ts);
 * every other command line goes through yargs (cli/yargs-cli.ts), loaded only then.
 * The process-wide settings (umask, V8 flags) are made here and nowhere else.
 */
import v8 from 'node:v8';
import { plainCheckoutArgs, plainListArgs } from './plain-argv.js';
import { userNamespaceNeed } from './userns-argv.js';

// Modes are sysctr's choice, not the caller's: with umask 000 its directories would be writable
// by anyone. Files that must be private are created 0600 and directories 0700 explicitly.
process.umask(0o022);

// what yargs' hideBin returns under node: the arguments after the script
const argv = process.argv.slice(2);

/**
 * Whether the command line may pull an image: `pull`, `install` (pulls a missing image),
 * `images update`, `containers update` (--pull). Read from the first command word; a wrong guess
 * only changes how V8 collects garbage.
 */
function mayPull(args: string[]): boolean {
  const i = args.findIndex((a) => ['pull', 'install', 'images', 'containers'].includes(a));
  if (i < 0) return false;
  return args[i] === 'pull' || args[i] === 'install' || args[i + 1] === 'update';
}

if (mayPull(argv)) {
  // V8 sizes the heap after the live JS objects, a few MB in a pull, and counts the tens of MB of
  // buffers a pull keeps in flight against that: it ran a full collection ~12 times a second, a
  // fifth of the pull's CPU time. A heap that grows more per collection costs ~15 MB of RSS.
  v8.setFlagsFromString('--heap-growing-percent=400');
  // fetch parses HTTP with undici's WebAssembly build of llhttp. V8 compiles it at once with its
  // baseline compiler, then again, optimised, on background threads, and Node waits for those at
  // exit: ~70 ms of a re-pull that asks for one manifest. llhttp only parses headers and hands
  // bodies on in large spans, which the baseline code does fast enough. Set before the first fetch.
  v8.setFlagsFromString('--liftoff-only');
}
// No --max-semi-space-size: V8 reads it only at start (so every command would pay for it, ~17 ms of
// CPU), and a pull's peak RSS is within 6 MB without it (BENCHMARKS.md, CLI start-up).

// `sysctr ... | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const userns = process.getuid?.() !== 0 ? userNamespaceNeed(argv) : undefined;
let status: number | undefined;
if (userns) {
  // a plain user's own store keeps other owners' files: the whole command runs in their user namespace
  try {
    status = await (await import('../lib/userns-exec.js')).runSelfInUserNamespace(argv, userns === 'required');
  } catch (err) {
    status = (await import('./context.js')).reportError(err, argv.includes('--debug'));
  }
}
if (status !== undefined) process.exitCode = status;
else await runHere();

async function runHere(): Promise<void> {
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
}
