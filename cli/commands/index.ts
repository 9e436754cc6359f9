/**
 * The top-level commands. --help needs only their names and descriptions, so each command's module
 * (options, handler) loads only when yargs runs that command: yargs waits for an async builder.
 */
import type { Argv, CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Command = CommandModule<any, any>;

const preloads: Array<() => Promise<unknown>> = [];

function lazy(command: string, describe: string, load: () => Promise<Command>): Command {
  let loaded: Command | undefined;
  const get = async () => (loaded ??= await load());
  preloads.push(get);
  const build = (y: Argv, c: Command) => (typeof c.builder === 'function' ? c.builder(y) : c.builder ? y.options(c.builder) : y);
  return {
    command,
    describe,
    // synchronous once loaded: shell completion does not wait for a builder's promise
    builder: ((y: Argv) => (loaded ? build(y, loaded) : get().then((c) => build(y, c)))) as never,
    handler: async (args) => (await get()).handler(args),
  };
}

/** Loads every command's module (shell completion reads every builder). */
export async function loadAllCommands(): Promise<void> {
  await Promise.all(preloads.map((p) => p()));
}

export const commands: Command[] = [
  lazy('pull <source>', 'bring an image into the store (docker://, oci:, oci-archive:, docker-archive:)', async () => (await import('./pull.js')).default),
  lazy('images', 'list, inspect, tag, delete and prune images', async () => (await import('./images.js')).default),
  lazy('checkout <image> <dir>', "write an image's root filesystem into DIR (files hardlinked from the store)", async () => (await import('./checkout.js')).default),
  lazy('fsck', 'verify every object, layer and image in the store', async () => (await import('./fsck.js')).default),
  lazy('install <image>', 'install an image as a system container (pulls it when missing)', async () => (await import('./install.js')).default),
  lazy('apply [source]', 'make the installed containers what a directory of declarations says (/etc/sysctr/containers.d)', async () => (await import('./apply.js')).default),
  lazy('uninstall <name>', 'stop and remove an installed container (also finishes a half-done install or uninstall)', async () => (await import('./uninstall.js')).default),
  lazy('start <name>', 'start an installed container (systemctl start)', async () => (await import('./startstop.js')).start),
  lazy('stop <name>', 'stop an installed container (systemctl stop)', async () => (await import('./startstop.js')).stop),
  lazy('run <name> [cmd..]', 'run a command in a container (runc exec when running, a one-off runc run otherwise)', async () => (await import('./run.js')).default),
  lazy('healthcheck <name>', "run a container's health check once in the running container (exit 0 healthy, 1 unhealthy)", async () => (await import('./healthcheck.js')).default),
  lazy('containers <command>', 'list, update and roll back installed containers', async () => (await import('./containers.js')).default),
  lazy('backup <name>', "archive a container's data volumes, values and image reference (zstd, with checksums)", async () => (await import('./backup.js')).backup),
  lazy('restore <file>', 'put a backup back: install the container if missing, then replace its data volumes', async () => (await import('./backup.js')).restore),
  lazy('auto-update [names..]', 'update the containers installed with --auto-update whose image changed (and the daily timer that runs it)', async () => (await import('./auto-update.js')).default),
  lazy('lint <dir..>', 'check an image source directory (exports files and Dockerfile)', async () => (await import('./lint.js')).default),
  lazy('trust <command>', 'show and change which images are accepted: containers-policy.json and registries.d', async () => (await import('./trust.js')).default),
  lazy('render <source>', 'print the config.json, unit, tmpfiles conf and rendered host files that install would write', async () => (await import('./render.js')).default),
];
