import t from 'tap';
import { sysctr } from '../helpers/cli.js';

t.test('--help lists the commands with examples', async (t) => {
  const r = await sysctr(['--help']);
  t.equal(r.exitCode, 0);
  for (const c of ['pull', 'images', 'checkout', 'install', 'containers', 'lint', 'render']) t.match(r.stdout, c);
  t.match(r.stdout, /Examples:/);
});

t.test('an unknown command is a usage error (exit 2)', async (t) => {
  const r = await sysctr(['frobnicate']);
  t.equal(r.exitCode, 2);
  t.match(r.stderr, /frobnicate/);
});
