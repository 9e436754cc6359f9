/**
 * `sysctr run NAME CMD [ARGS...]` gives CMD every word after it, options included: cli/run-argv.ts
 * cuts them off before yargs parses sysctr's own options. Checked on the split itself, then through
 * the built CLI down to the runtime's command line: a deployment written by hand whose `info` names a
 * recording runtime (it prints the argv it got; `state` says running or not as the test sets it).
 * The real runc, in a booted systemd, is in test/e2e/e2e-run-argv.test.ts.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { splitRunArgv } from '../../cli/run-argv.js';
import { sysctr } from '../helpers/cli.js';

t.test('the split: sysctr options before CMD, everything from CMD on untouched', async (t) => {
  const cases: Array<[string[], string[], string[]]> = [
    [['run', 'etcd', 'etcdctl', '--endpoints=http://127.0.0.1:2379', 'get', 'k'], ['run', 'etcd'], ['etcdctl', '--endpoints=http://127.0.0.1:2379', 'get', 'k']],
    [['run', '--root', 'X', 'web', 'cmd', '-x'], ['run', '--root', 'X', 'web'], ['cmd', '-x']],
    [['--root=X', '--debug', 'run', 'web', '--user', '--unit-dir', 'U', 'sh', '-q', '--root', 'Y'], ['--root=X', '--debug', 'run', 'web', '--user', '--unit-dir', 'U'], ['sh', '-q', '--root', 'Y']],
    [['run', 'web', '--', 'cmd', '--flag'], ['run', 'web'], ['cmd', '--flag']],
    [['run', 'web', '--', '--', 'x'], ['run', 'web'], ['--', 'x']],
    [['run', 'web', 'sh', '--help'], ['run', 'web'], ['sh', '--help']],
    [['run', 'web', 'echo', '1.50', '007'], ['run', 'web'], ['echo', '1.50', '007']],
  ];
  for (const [argv, yargsPart, command] of cases) t.same(splitRunArgv(argv), { argv: yargsPart, command }, argv.join(' '));
  // left whole for yargs: no command, help or an unknown option before CMD, other commands
  for (const argv of [['run', 'web'], ['run', '--help'], ['run', 'web', '-h', 'sh'], ['run', 'web', '--bogus', 'sh'], ['run', '--', 'web'], ['pull', 'x', 'y'], ['install', 'run', 'a', 'b']]) {
    t.same(splitRunArgv(argv), { argv, command: [] }, argv.join(' '));
  }
});

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-run-argv-'));
t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }));
const root = path.join(scratch, 'root');
const running = path.join(scratch, 'running');
const runtime = path.join(scratch, 'recording-runtime');
fs.writeFileSync(
  runtime,
  `#!${process.execPath}
// state ID: running when the marker file exists; exec ID ARGS / run --bundle DIR ID: prints the command as JSON
const fs = require('fs');
const [op, ...rest] = process.argv.slice(2);
if (op === 'state') {
  if (!fs.existsSync(${JSON.stringify(running)})) process.exit(1);
  console.log(JSON.stringify({ id: rest[0], pid: 1, status: 'running', bundle: '/' }));
} else if (op === 'exec') console.log(JSON.stringify({ op, id: rest[0], args: rest.slice(1) }));
else if (op === 'run') console.log(JSON.stringify({ op, id: rest[2], args: JSON.parse(fs.readFileSync(rest[1] + '/config.json', 'utf8')).process.args }));
else process.exit(3);
`,
  { mode: 0o755 },
);
const dep = path.join(root, 'demo-argv.0');
fs.mkdirSync(path.join(dep, 'rootfs'), { recursive: true });
fs.writeFileSync(path.join(dep, 'config.json'), JSON.stringify({ process: { args: ['/usr/bin/run.sh'] }, root: { path: 'rootfs', readonly: true } }));
fs.writeFileSync(path.join(dep, 'info'), JSON.stringify({ name: 'demo-argv', image: 'localhost/x:1', imageId: 'sha256:0', values: {}, set: {}, runtime, created: new Date().toISOString(), detached: false, user: false, unitPath: '/nonexistent' }));
fs.symlinkSync('demo-argv.0', path.join(root, 'demo-argv'));

async function runtimeGot(args: string[], env: Record<string, string> = {}): Promise<{ op: string; id: string; args: string[] }> {
  const r = await sysctr(args, { env });
  if (r.exitCode !== 0) throw new Error(`sysctr ${args.join(' ')}: exit ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

t.test('running: runc exec gets the command with its options, short flags and --help', async (t) => {
  fs.writeFileSync(running, '');
  const got = await runtimeGot(['run', '--root', root, 'demo-argv', 'etcdctl', '--endpoints=http://127.0.0.1:2379', 'get', 'k']);
  t.same(got, { op: 'exec', id: 'demo-argv', args: ['etcdctl', '--endpoints=http://127.0.0.1:2379', 'get', 'k'] }, "the brief's etcdctl example");
  t.same((await runtimeGot(['run', '--root', root, 'demo-argv', 'sh', '-c', 'echo "$@"', 'x', '--endpoints=a', '-q'])).args, ['sh', '-c', 'echo "$@"', 'x', '--endpoints=a', '-q']);
  t.same((await runtimeGot(['run', '--root', root, 'demo-argv', '--', 'cmd', '--flag'])).args, ['cmd', '--flag'], 'after --');
  const help = await sysctr(['run', '--root', root, 'demo-argv', 'sh', '--help']);
  t.equal(help.exitCode, 0, help.stderr);
  t.same(JSON.parse(help.stdout).args, ['sh', '--help'], "--help after CMD is the command's, not sysctr's help");
  t.same((await runtimeGot(['run', 'demo-argv', 'ls', '-la', '--root', '/elsewhere'], { SYSCTR_ROOT: root })).args, ['ls', '-la', '--root', '/elsewhere'], "--root after CMD is the command's");
  t.same((await runtimeGot(['--root', root, 'run', 'demo-argv', '--system', 'echo', '1.50', '007', '-1'])).args, ['echo', '1.50', '007', '-1'], 'number-like words stay as written');
});

t.test('stopped: the one-off runc run gets the same command', async (t) => {
  fs.rmSync(running, { force: true });
  const got = await runtimeGot(['run', '--root', root, 'demo-argv', 'sh', '-c', 'echo "$@"', 'x', '--endpoints=a', '-q']);
  t.equal(got.op, 'run');
  t.match(got.id, /^demo-argv-run-\d+$/);
  t.same(got.args, ['sh', '-c', 'echo "$@"', 'x', '--endpoints=a', '-q']);
  t.same((await runtimeGot(['run', '--root', root, 'demo-argv'])).args, ['/usr/bin/run.sh'], 'no command: the image command');
});

t.test("sysctr's own options and usage errors stay sysctr's", async (t) => {
  const unknown = await sysctr(['run', '--root', root, 'demo-argv', '--bogus', 'sh']);
  t.equal(unknown.exitCode, 2);
  t.match(unknown.stderr, /Unknown argument: bogus/, 'an unknown option before CMD is a usage error');
  const help = await sysctr(['run', '--help']);
  t.equal(help.exitCode, 0);
  t.match(help.stdout, /Examples:[\s\S]*sysctr run etcd etcdctl[\s\S]*--endpoints=/);
  const missing = await sysctr(['run', '--root', root, 'demo-nosuch', 'sh', '--help']);
  t.equal(missing.exitCode, 1);
  t.match(missing.stderr, /demo-nosuch is not installed/);
});
