import type { Argv, CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { ago, filterMatches, humanSize, jsonChangeOption, parseFilters, printChange, printJson, printTable, shortId } from '../output.js';
import { storeUserOption } from './host-options.js';
import { verify } from './images-verify.js';
import { checkTimeout, registryOptions, registrySourceOptions, type RegistryArgs } from './registry-options.js';

interface ListArgs extends GlobalArgs {
  all?: boolean;
  json?: boolean;
  quiet?: boolean;
  trunc: boolean;
  filter?: string[];
}

const FILTER_KEYS = ['repo', 'tag', 'id', 'label', 'platform', 'system'];

async function openStore(args: GlobalArgs) {
  const { Store } = await import('../../lib/store/store.js');
  return Store.open(pathsFrom(args).store);
}

function splitName(name: string): { repo: string; tag: string } {
  const at = name.indexOf('@');
  const base = at >= 0 ? name.slice(0, at) : name;
  const colon = base.lastIndexOf(':');
  return colon > base.lastIndexOf('/') ? { repo: base.slice(0, colon), tag: base.slice(colon + 1) } : { repo: base, tag: at >= 0 ? name.slice(at + 1) : '<none>' };
}

const list: CommandModule<GlobalArgs, ListArgs> = {
  command: ['list', 'ls'],
  describe: 'list the images in the store',
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', describe: 'also list layers no image uses (left by interrupted pulls or deletes)' })
      .option('json', { type: 'boolean', describe: 'print JSON' })
      .option('quiet', { alias: 'q', type: 'boolean', describe: 'print image ids only' })
      // declared as `trunc`: yargs reads --no-trunc as its negation
      .option('trunc', { type: 'boolean', default: true, describe: 'shorten ids (--no-trunc: show them whole)' })
      .option('filter', { alias: 'f', type: 'string', array: true, describe: `KEY=VALUE (${FILTER_KEYS.join(', ')}); * globs` })
      .example('$0 images list -f repo=*etcd*', 'images whose repository matches')
      .example('$0 images list -f label=atomic.type=system --json', 'system container images, as JSON'),
  handler: async (args) => {
    const filters = parseFilters(args.filter, FILTER_KEYS);
    const store = await openStore(args);
    const { familiarName } = await import('../../lib/image/reference.js');
    const { images: all, layerSizes } = await store.read((view) => {
      const images = view.images.list();
      const used = new Set(images.flatMap((i) => i.layers));
      const sizes = new Map(args.all ? view.layers.list().filter((l) => !used.has(l)).map((l) => [l, view.layers.meta(l)?.size ?? 0] as const) : []);
      return { images, layerSizes: sizes };
    });
    let images = all;
    images = images.filter((img) =>
      filters.every(([k, v]) => {
        const { repo, tag } = splitName(img.name);
        switch (k) {
          case 'repo':
            return filterMatches(repo, v) || filterMatches(familiarName(repo), v);
          case 'tag':
            return filterMatches(tag, v);
          case 'id':
            return img.id.replace(/^sha256:/, '').startsWith(v.replace(/^sha256:/, ''));
          case 'label': {
            const eq = v.indexOf('=');
            return eq < 0 ? v in img.labels : filterMatches(img.labels[v.slice(0, eq)], v.slice(eq + 1));
          }
          case 'platform':
            return filterMatches(img.platform, v);
          case 'system':
            return (img.labels['atomic.type'] === 'system') === (v === 'true');
        }
        return false;
      }),
    );
    const dangling = filters.length > 0 ? [] : [...layerSizes.keys()];
    if (args.quiet) {
      const ids = [...new Set(images.map((i) => shortId(i.id, !args.trunc)))];
      if (ids.length) process.stdout.write(ids.join('\n') + '\n');
      return;
    }
    if (args.json) {
      printJson(args.all ? { images, danglingLayers: dangling } : images);
      return;
    }
    const rows = [
      ...images.map((i) => ({ ...splitName(familiarName(i.name)), id: shortId(i.id, !args.trunc), created: ago(i.created), size: humanSize(i.size), platform: i.platform })),
      ...dangling.map((l) => ({ repo: '<layer>', tag: '<none>', id: shortId(l, !args.trunc), created: '', size: humanSize(layerSizes.get(l) ?? 0), platform: '' })),
    ];
    printTable(rows, [
      { header: 'REPOSITORY', value: (r) => r.repo },
      { header: 'TAG', value: (r) => r.tag, trunc: 30 },
      { header: 'IMAGE ID', value: (r) => r.id },
      { header: 'CREATED', value: (r) => r.created },
      { header: 'SIZE', value: (r) => r.size },
      { header: 'PLATFORM', value: (r) => r.platform },
    ], { noTrunc: !args.trunc });
  },
};

const info: CommandModule<GlobalArgs, GlobalArgs & { image: string; json?: boolean }> = {
  command: ['info <image>', 'inspect <image>'],
  describe: 'show an image: reference, id, digest, labels, template variables',
  builder: (y) => y.positional('image', { type: 'string', demandOption: true }).option('json', { type: 'boolean', describe: 'print JSON' }),
  handler: async (args) => {
    const store = await openStore(args);
    const { inspectImage } = await import('../../lib/image/inspect.js');
    const { resolveImage } = await import('../../lib/image/find.js');
    const { rec, i } = await store.read((view) => {
      const rec = resolveImage(view, args.image);
      return { rec, i: inspectImage(view, rec) };
    });
    // what the policy in force says now, with the signatures recorded at pull
    const { verifyStoredImage } = await import('../../lib/image/trust.js');
    const verdict = await verifyStoredImage(rec, pathsFrom(args).trust);
    if (args.json) return printJson({ ...i, verdict });
    const { describeVerdict } = await import('../../lib/trust/record.js');
    const out: string[] = [
      `Reference:   ${i.name}`,
      `Id:          ${i.id}`,
      `Digest:      ${i.manifestDigest}`,
      `Created:     ${i.created ?? ''}`,
      `Size:        ${humanSize(i.size)} (${i.layers.length} layers)`,
      `Platform:    ${i.platform}`,
      `Source:      ${i.source}`,
      `System:      ${i.systemContainer ? 'yes (atomic.type=system)' : 'no atomic.type=system label'}`,
      `Command:     ${JSON.stringify([...(i.entrypoint ?? []), ...(i.cmd ?? [])])}`,
      'Labels:',
      ...Object.entries(i.labels).map(([k, v]) => `  ${k}=${v}`),
      `Exports:     ${i.exports.length ? i.exports.join(', ') : '(none: a default config.json and unit will be used)'}`,
      'Variables:',
      ...i.variables.map((v) => `  ${v.name.padEnd(28)} ${v.source === 'manifest' ? `default ${JSON.stringify(v.default)}` : v.source === 'sysctr' ? 'set by sysctr' : v.source === 'os' ? 'OS default' : 'MUST BE SET (--set ' + v.name + '=...)'}`),
    ];
    if (i.required.length) out.push(`Required:    ${i.required.map((r) => `--set ${r}=...`).join(' ')}`);
    if (i.noContainerService) out.push('Service:     none (noContainerService: host files only)');
    out.push(`Trust:       ${describeVerdict(verdict).join('\n             ')}`);
    if (i.volumes.length) {
      out.push('Volumes:     (data: kept across updates, under the state root; assets: /exports/assets/NAME, read-only)');
      for (const v of i.volumes) out.push(`  ${v.name.padEnd(16)} ${v.type.padEnd(7)} ${v.mount}  ($${v.variable}${v.type === 'data' && !v.snapshot ? ', not snapshotted' : ''}${v.from === 'image-config' ? ', from the image config\'s Volumes' : ''})`);
    }
    if (i.hostFiles.length) {
      out.push('Host files:  (from /exports/hostfs; paths as renameFiles gives them, rendered at install)');
      for (const f of i.hostFiles) out.push(`  ${f.target}${f.target !== f.source ? `  <- hostfs${f.source}` : ''}  (${f.type === 'file' ? f.mode : f.type}${f.template ? ', template' : ''})`);
    }
    process.stdout.write(out.join('\n') + '\n');
  },
};

const dryRunOption = { type: 'boolean', describe: 'say what would be removed or written, change nothing' } as const;

const del: CommandModule<GlobalArgs, GlobalArgs & { images: string[]; force?: boolean; json?: boolean; 'dry-run'?: boolean }> = {
  command: ['delete <images..>', 'rm <images..>'],
  describe: 'remove images from the store (and the content only they used)',
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, demandOption: true })
      .option('force', { type: 'boolean', describe: 'even when an installed container uses it' })
      .option('dry-run', dryRunOption)
      .option('json', jsonChangeOption),
  handler: async (args) => {
    const store = await openStore(args);
    const { deleteImages } = await import('../../lib/image/delete.js');
    const { imagesInUse } = await import('../../lib/deploy/in-use.js');
    const paths = pathsFrom(args);
    const dryRun = Boolean(args['dry-run']);
    const r = await deleteImages(store, args.images, { force: args.force, inUse: () => imagesInUse(paths), dryRun });
    if (args.json) return printChange({ changed: r.removed.length > 0 || r.freed.objects > 0, dryRun, ...r });
    const would = dryRun ? 'would be ' : '';
    for (const n of r.removed) process.stdout.write(`${dryRun ? 'would delete' : 'deleted'} ${n}\n`);
    for (const id of r.kept) process.stdout.write(`${would}kept ${id} (unnamed) while installed containers use it\n`);
    if (r.freed.objects) process.stdout.write(`${dryRun ? 'would free' : 'freed'} ${r.freed.layers} layers, ${r.freed.objects} objects (${humanSize(r.freed.bytes)})\n`);
  },
};

const prune: CommandModule<GlobalArgs, GlobalArgs & { json?: boolean; 'dry-run'?: boolean }> = {
  command: 'prune',
  describe: 'remove unnamed images no container uses, and layers, objects and blobs no image uses',
  builder: (y) => y.option('dry-run', dryRunOption).option('json', jsonChangeOption),
  handler: async (args) => {
    const store = await openStore(args);
    const { pruneImages } = await import('../../lib/image/delete.js');
    const { imagesInUse } = await import('../../lib/deploy/in-use.js');
    const paths = pathsFrom(args);
    const dryRun = Boolean(args['dry-run']);
    const r = await pruneImages(store, () => imagesInUse(paths), { dryRun });
    if (args.json) return printChange({ changed: r.images + r.layers + r.objects + r.blobs > 0, dryRun, ...r });
    process.stdout.write(`${dryRun ? 'would remove' : 'removed'} ${r.images} unnamed images, ${r.layers} layers, ${r.objects} objects, ${r.blobs} blobs (${humanSize(r.bytes)})\n`);
  },
};

const tag: CommandModule<GlobalArgs, GlobalArgs & { source: string; target: string; json?: boolean; 'dry-run'?: boolean }> = {
  command: 'tag <source> <target>',
  describe: 'give an image another name',
  builder: (y) =>
    y.positional('source', { type: 'string', demandOption: true }).positional('target', { type: 'string', demandOption: true }).option('dry-run', dryRunOption).option('json', jsonChangeOption),
  handler: async (args) => {
    const store = await openStore(args);
    const { normalizeName } = await import('../../lib/image/reference.js');
    const name = normalizeName(args.target);
    const { resolveImage } = await import('../../lib/image/find.js');
    const r = await store.write((view) => {
      const src = resolveImage(view, args.source);
      const previous = view.images.get(name)?.id;
      // the name already on this image: nothing to write (a second run reports no change)
      if (previous !== src.id && !args['dry-run']) view.images.put({ ...src, name, pulled: new Date().toISOString() });
      return { changed: previous !== src.id, image: name, id: src.id, ...(previous && previous !== src.id ? { previousId: previous } : {}) };
    });
    if (args.json) return printChange({ ...r, dryRun: Boolean(args['dry-run']) });
    process.stdout.write(r.changed ? `${args['dry-run'] ? 'would tag' : 'tagged'} ${name}\n` : `${name} already names ${r.id}\n`);
  },
};

interface UpdateArgs extends GlobalArgs, RegistryArgs {
  image?: string;
  all?: boolean;
  quiet?: boolean;
  json?: boolean;
  'dry-run'?: boolean;
}

const update: CommandModule<GlobalArgs, UpdateArgs> = {
  command: 'update [image]',
  describe: 'pull again the references of installed images (or of IMAGE)',
  builder: (y) =>
    y
      .positional('image', { type: 'string', describe: 'an image in the store' })
      .option('all', { type: 'boolean', describe: 'every image an installed container uses' })
      .options(registryOptions)
      .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only errors' })
      .option('dry-run', { type: 'boolean', describe: 'ask each source what a pull would bring, fetch no layer, store nothing' })
      .option('json', jsonChangeOption)
      .check((a) => (!a.image === !a.all ? 'name an IMAGE or give --all' : true))
      .check(checkTimeout)
      .example('$0 images update --all', 'refresh the images of every installed container, then: sysctr containers update --all'),
  handler: async (args) => {
    const store = await openStore(args);
    const { pullImage } = await import('../../lib/image/pull.js');
    const { familiarName } = await import('../../lib/image/reference.js');
    const { resolveImage } = await import('../../lib/image/find.js');
    let targets;
    if (args.image) targets = [await store.read((view) => resolveImage(view, args.image!))];
    else {
      const { imagesInUse } = await import('../../lib/deploy/in-use.js');
      const used = imagesInUse(pathsFrom(args));
      targets = (await store.read((view) => view.images.list())).filter((i) => used.has(i.id) && !i.name.startsWith('<none>'));
      if (!targets.length && !args.quiet && !args.json) process.stdout.write('no installed container uses a named image\n');
    }
    let failed = 0;
    const images: Array<{ image: string; changed: boolean; previousId: string; id?: string; fetched?: number; error?: string }> = [];
    for (const rec of targets) {
      try {
        const r = await pullImage(store, rec.source, { name: rec.name, platform: rec.platform, ...registrySourceOptions(args), trust: pathsFrom(args).trust, registriesConf: pathsFrom(args).registriesConf, dryRun: args['dry-run'] });
        images.push({ image: rec.name, changed: !r.upToDate, previousId: rec.id, id: r.image.id, fetched: r.fetched });
        if (!args.quiet && !args.json) {
          process.stdout.write(
            r.upToDate ? `${familiarName(rec.name)}: up to date\n` : `${familiarName(rec.name)}: ${r.dryRun ? 'would update' : 'updated'} ${shortId(rec.id)} -> ${shortId(r.image.id)} (${r.fetched} layers ${r.dryRun ? 'to fetch' : 'fetched'})\n`,
          );
        }
      } catch (err) {
        failed++;
        images.push({ image: rec.name, changed: false, previousId: rec.id, error: (err as Error).message });
        (await import('../context.js')).reportItemError(familiarName(rec.name), err);
      }
    }
    if (args.json) printChange({ changed: images.some((i) => i.changed), dryRun: Boolean(args['dry-run']), images });
    if (failed) process.exitCode = 1;
  },
};

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<GlobalArgs, GlobalArgs> = {
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('user', { ...storeUserOption, global: true })
      .command(list)
      .command(info)
      .command(del)
      .command(prune)
      .command(tag)
      .command(update)
      .command(verify)
      .demandCommand(1, 'name an images command: list, info, delete, prune, tag, update, verify')
      .example('$0 images list', 'what is in the store')
      .example('$0 images info demo:1', 'labels and template variables of an image'),
  handler: () => {},
};
export default cmd;
