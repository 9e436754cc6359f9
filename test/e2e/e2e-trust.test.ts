/**
 * The signature policy in a systemd booted with systemd-nspawn, at its real default place
 * (/etc/containers/policy.json, the machine's own /etc): no file accepts anything; `trust default
 * reject` makes pull refuse; a scope for the layout lets the example image be pulled, installed
 * and started; a policy tightened afterwards makes `containers update` and a second install refuse,
 * and the running service is left as it was.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'trust-layout');
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  const other = path.join(m.scratch, 'other');
  fs.cpSync(path.join(projectDir, 'fixtures/images/example'), other, { recursive: true });
  fs.writeFileSync(path.join(other, 'rootfs/usr/bin/marker'), 'v2\n');
  await buildImageWithUmoci(other, layout, 'v2');
  const env = { SYSCTR_ROOT: '/var/lib/sysctr-e2e-trust' };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const writePolicy = (p: unknown) => m.sh(`mkdir -p /etc/containers && cat > /etc/containers/policy.json <<'EOF'\n${JSON.stringify(p, null, 2)}\nEOF`);

  t.test('no policy file: accepted, and images info says so', async (t) => {
    const r = await sysctr(['pull', `oci:${layout}:v1`]);
    t.equal(r.exitCode, 0, r.stderr);
    const info = await sysctr(['images', 'info', 'trust-layout:v1']);
    t.match(info.stdout, /Trust: +no signature policy file: every image is accepted/);
    t.equal((await sysctr(['images', 'delete', 'trust-layout:v1'])).exitCode, 0);
  });

  t.test('trust default reject: pull refused, nothing stored', async (t) => {
    const d = await sysctr(['trust', 'default', 'reject']);
    t.equal(d.exitCode, 0, d.stderr);
    t.match((await m.exec(['cat', '/etc/containers/policy.json'])).stdout, /"type": "reject"/);
    const r = await sysctr(['pull', `oci:${layout}:v1`]);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /refused by the signature policy \/etc\/containers\/policy\.json: requirement 1 \(reject\) of default/);
    t.equal((await sysctr(['images', 'list', '-q'])).stdout.trim(), '', 'nothing stored');
  });

  t.test('a scope for the layout: install --now runs; a tightened policy refuses update and install, the service stays', async (t) => {
    await writePolicy({ default: [{ type: 'reject' }], transports: { oci: { [`${layout}:v1`]: [{ type: 'insecureAcceptAnything' }], [`${layout}:v2`]: [{ type: 'insecureAcceptAnything' }] } } });
    const show = await sysctr(['trust', 'show']);
    t.match(show.stdout, new RegExp(`oci ${layout}:v1 +accept \\(insecureAcceptAnything\\)`));
    for (const tag of ['v1', 'v2']) t.equal((await sysctr(['pull', `oci:${layout}:${tag}`])).exitCode, 0);
    const inst = await sysctr(['install', '--name', 'trustweb', '--set', 'PORT=8191', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'trust-layout:v1']);
    t.equal(inst.exitCode, 0, inst.stderr);
    t.equal((await m.exec(['systemctl', 'is-active', 'trustweb.service'])).stdout.trim(), 'active');

    await writePolicy({ default: [{ type: 'reject' }], transports: { oci: { [`${layout}:v1`]: [{ type: 'insecureAcceptAnything' }], [layout]: [{ type: 'reject' }] } } });
    const up = await sysctr(['containers', 'update', '--rebase', 'trust-layout:v2', 'trustweb']);
    t.equal(up.exitCode, 1);
    t.match(up.stderr, new RegExp(`requirement 1 \\(reject\\) of transports\\.oci\\["${layout}"\\]`));
    t.equal((await m.exec(['readlink', '/var/lib/sysctr-e2e-trust/trustweb'])).stdout.trim(), 'trustweb.0', 'still the first deployment');
    t.equal((await m.exec(['systemctl', 'is-active', 'trustweb.service'])).stdout.trim(), 'active', 'the service still runs');
    const second = await sysctr(['install', '--name', 'trustweb2', 'trust-layout:v2']);
    t.equal(second.exitCode, 1);
    t.match(second.stderr, /refused by the signature policy/);
    t.equal((await m.exec(['test', '-e', '/etc/systemd/system/trustweb2.service'])).exitCode, 1, 'no unit written');
    t.equal((await sysctr(['uninstall', 'trustweb'])).exitCode, 0);
  });
}
