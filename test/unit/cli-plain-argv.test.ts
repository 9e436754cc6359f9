/**
 * The fast paths of `containers list` and `checkout` (BENCHMARKS.md, CLI start-up): cli/plain-argv.ts reads plain command lines as yargs
 * reads them (checked against yargs itself, with the real option declarations) and hands the rest
 * to yargs; without --json the states come from one `systemctl list-units`.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type YargsFactory from 'yargs';
import { plainListArgs } from '../../cli/plain-argv.js';
import { list, type ListArgs } from '../../cli/commands/containers-list.js';
import { RecordingRunner } from '../../lib/proc.js';
import { resolvePaths } from '../../lib/paths.js';
import { listContainers } from '../../lib/deploy/list.js';
import { Systemd, parseListUnits } from '../../lib/systemd/systemctl.js';
import { sysctr } from '../helpers/cli.js';

const yargs = createRequire(import.meta.url)('yargs') as typeof YargsFactory;
const KEYS = ['all', 'json', 'quiet', 'trunc', 'filter', 'root', 'unit-dir', 'tmpfiles-dir', 'user', 'debug'] as const;

/** what the list handler gets from yargs (the same declarations as cli/yargs-cli.ts), or the usage error */
async function viaYargs(argv: string[]): Promise<Record<string, unknown> | string> {
  let got: Record<string, unknown> | undefined;
  let failed: string | undefined;
  await yargs(argv)
    .option('root', { type: 'string', global: true })
    .option('debug', { type: 'boolean', global: true })
    .command({
      command: 'containers <command>',
      describe: false,
      builder: (y) => y.command({ ...list, handler: (a: ListArgs) => void (got = { ...a }) } as never),
      handler: () => {},
    })
    .strict()
    .exitProcess(false)
    .fail((msg) => void (failed = msg))
    .parseAsync();
  return failed ?? got ?? 'no handler';
}

function pick(a: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of KEYS) {
    const v = k === 'filter' && a[k] !== undefined ? ([] as unknown[]).concat(a[k]) : a[k];
    if (v !== undefined && v !== false) out[k] = v;
  }
  if (out.trunc === undefined) out.trunc = false; // --no-trunc
  return out;
}

t.test('plain command lines: the same arguments as yargs gives the handler', async (t) => {
  const lines = [
    'containers list',
    'containers ls',
    'containers list --all',
    'containers ls -a --json',
    'containers list -q --no-trunc',
    'containers list --quiet --trunc --debug',
    'containers list -f name=web* --filter state=running --filter=image=x=y',
    'containers list --root /tmp/r --unit-dir u --tmpfiles-dir=t --user',
    'containers list --root= --system',
    'containers list --root=123 -f ',
  ];
  for (const line of lines) {
    const argv = line.split(' ');
    const fast = plainListArgs(argv);
    t.ok(fast, `fast path: ${line}`);
    const slow = await viaYargs(argv);
    t.same(pick(fast as Record<string, unknown>), typeof slow === 'string' ? slow : pick(slow), line);
  }
});

t.test('everything else is left to yargs', async (t) => {
  const lines = [
    'containers list --help', 'containers list -h', 'containers list --version', 'containers list -aq',
    'containers list --all --all', 'containers list --trunc --no-trunc', 'containers list --user --system',
    'containers list --root', 'containers list --root -a', 'containers list --root a --root b', 'containers list extra',
    'containers list --all=true', 'containers list --json true', 'containers list -f=name=x', 'containers list --frobnicate',
    'containers list --', 'containers list --constructor', 'containers list __proto__', '--root x containers list',
    'containers info web', 'containers', 'list',
  ];
  for (const line of lines) t.equal(plainListArgs(line.split(' ')), undefined, line);
});

t.test('list-units states: loaded units as listed, the others inactive, no systemd: none', async (t) => {
  const out = [
    'a.service loaded active running A service',
    '● b.service loaded failed failed B',
    'c.service loaded activating start-pre C (with words)',
  ].join('\n');
  t.same(parseListUnits(out, ['a.service', 'b.service', 'c.service']).map((s) => [s.id, s.loadState, s.activeState, s.subState]), [
    ['a.service', 'loaded', 'active', 'running'],
    ['b.service', 'loaded', 'failed', 'failed'],
    ['c.service', 'loaded', 'activating', 'start-pre'],
  ]);
  const runner = new RecordingRunner((_f, args) => (args.includes('list-units') ? { stdout: out } : { exitCode: 1 }));
  const states = await new Systemd(runner, true).states(['a.service', 'b.service', 'c.service', 'gone.service']);
  t.same(runner.calls, [['systemctl', '--user', 'list-units', '--all', '--plain', '--no-legend', '--no-pager', '--', 'a.service', 'b.service', 'c.service', 'gone.service']]);
  t.equal(states.get('gone.service')?.activeState, 'inactive', 'not loaded: inactive');
  t.equal(states.get('b.service')?.activeState, 'failed');
  const none = await new Systemd(new RecordingRunner(() => ({ exitCode: 1 })), false).states(['a.service']);
  t.equal(none.size, 0, 'systemd not reachable');
  const globby = new RecordingRunner(() => ({ exitCode: 1 }));
  await new Systemd(globby, false).states(['a*.service']);
  t.equal(globby.calls[0][1], 'show', 'a name list-units would read as a glob is asked with show');
});

t.test('listContainers without unit details: the same states from list-units', async (t) => {
  const dir = t.testdir({});
  const paths = resolvePaths({ root: dir, unitDir: path.join(dir, 'u'), tmpfilesDir: path.join(dir, 't') });
  for (const name of ['a', 'b', 'c']) {
    fs.mkdirSync(path.join(dir, `${name}.0`));
    fs.writeFileSync(path.join(dir, `${name}.0`, 'info'), JSON.stringify({ name, image: `localhost/${name}:1`, imageId: 'sha256:00', runtime: 'runc', created: '' }));
    fs.symlinkSync(`${name}.0`, path.join(dir, name));
  }
  const runner = new RecordingRunner((_f, args) =>
    args[0] === 'list-units' ? { stdout: 'a.service loaded active running A\nb.service loaded failed failed B' } : { exitCode: 1 },
  );
  const rows = await listContainers(paths, runner, { unitDetails: false });
  t.equal(runner.calls.length, 1);
  t.same(rows.map((r) => [r.name, r.state, r.unit]), [['a', 'running', null], ['b', 'failed', null], ['c', 'inactive', null]]);
});

t.test('the fast path reports errors as yargs did (exit status, message)', async (t) => {
  const dir = t.testdir({});
  const r = await sysctr(['containers', 'list', '--root', dir, '-f', 'bogus=1']);
  t.equal(r.exitCode, 2);
  t.match(r.stderr, /unknown filter key "bogus"/);
  const empty = await sysctr(['containers', 'ls', '--root', dir, '-q']);
  t.same([empty.exitCode, empty.stdout], [0, '']);
});

t.test('checkout: plain command lines as yargs reads them, the rest left to yargs', async (t) => {
  const { plainCheckoutArgs } = await import('../../cli/plain-argv.js');
  const checkoutCmd = (await import('../../cli/commands/checkout.js')).default;
  const viaYargsCheckout = async (argv: string[]) => {
    let got: Record<string, unknown> | undefined;
    let failed: string | undefined;
    await yargs(argv)
      .option('root', { type: 'string', global: true })
      .option('debug', { type: 'boolean', global: true })
      .command({ ...checkoutCmd, handler: (a: Record<string, unknown>) => void (got = a) } as never)
      .strict()
      .exitProcess(false)
      .fail((msg) => void (failed = msg))
      .parseAsync();
    return failed ?? got ?? 'no handler';
  };
  const keys = ['image', 'dir', 'json', 'root', 'debug'];
  const pickC = (a: Record<string, unknown>) => Object.fromEntries(keys.filter((k) => a[k] !== undefined && a[k] !== false).map((k) => [k, a[k]]));
  for (const line of ['checkout img:1 /tmp/x', 'checkout --json img /d', 'checkout img /d --root /r --debug', 'checkout 1234 5678', 'checkout --root=/r img d']) {
    const argv = line.split(' ');
    const fast = plainCheckoutArgs(argv);
    t.ok(fast, `fast path: ${line}`);
    const slow = await viaYargsCheckout(argv);
    t.same(pickC({ ...fast }), typeof slow === 'string' ? slow : pickC(slow), line);
  }
  for (const line of ['checkout', 'checkout img', 'checkout a b c', 'checkout img -d', 'checkout --help a b', 'checkout a b --json --json', 'checkout a b --frob', 'checkout a b --root', 'checkout __proto__ b', 'checkout a b --json=false']) {
    t.equal(plainCheckoutArgs(line.split(' ')), undefined, `yargs: ${line}`);
  }
});
