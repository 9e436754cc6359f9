/**
 * Golden files: what `sysctr render` writes for each image of the compat corpus
 * (test/helpers/compat.ts) and for images without /exports (the default config.json and unit),
 * compared byte for byte with test/golden/<case>/: config.json, NAME.service (with sysctr's
 * header), NAME.service.d/sysctr.conf, NAME.conf when there is a tmpfiles conf, `warnings` when
 * rendering warns, `error` when the image does not render. The inputs are fixed, so the files do
 * not depend on this machine: a fixed UUID, image name and id, root mode, runc at /usr/sbin/runc,
 * an empty environment, and the 41 capabilities of Linux 5.9 as the kernel's set (and net-snmp once
 * more under a manager without CAP_SYS_RESOURCE).
 *
 * After a change that is meant to change the output, write the files anew and read the diff:
 *
 *     npm run golden:update        (SYSCTR_COMPAT_DIR names the corpus when it is elsewhere)
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { installedFiles, renderDeployment, type RenderInput } from '../../lib/deploy/render.js';
import { readSourceDir } from '../../lib/rootfs/exports.js';
import { grantable } from '../../lib/runtime/capabilities.js';
import { SysctrError } from '../../lib/errors.js';
import { projectDir } from '../helpers/cli.js';
import { compatImages, missingCompat } from '../helpers/compat.js';
import { unmet } from '../helpers/prereq.js';

const goldenDir = path.join(projectDir, 'test/golden');
const updating = process.env.SYSCTR_GOLDEN_UPDATE === '1';

// the kernel's capabilities fixed, so that the machine's kernel does not change the files
const KERNEL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];
const UUID = '8c1f0f3e-5a7b-4c2d-9e6f-0a1b2c3d4e5f';
const IMAGE_ID = `sha256:${'5e'.repeat(32)}`;
/** values for the variables some corpus images leave without a default (they need --set) */
const SET: Record<string, Record<string, string>> = {
  'system-container-runonce-files': { RECEIVER: 'golden-receiver' },
  'system-container-update-files': { VAR_WITH_NO_DEFAULT: 'golden-value' },
};

interface Case {
  name: string;
  input: RenderInput;
}

function rootInput(name: string, exports: RenderInput['exports'], over: Partial<RenderInput> = {}): RenderInput {
  return {
    name,
    destdir: `/var/lib/containers/sysctr/${name}.0`,
    exports,
    image: { name: `registry.example/golden/${name}:1`, id: IMAGE_ID },
    set: { UUID, ...SET[name] },
    runtime: '/usr/sbin/runc',
    user: false,
    hostUid: 0,
    hostGid: 0,
    env: {},
    capabilities: grantable({ kernel: KERNEL_CAPS, manager: 'PID 1 (the system manager)' }),
    ...over,
  };
}

/** Images without /exports: the default config.json, unit and drop-in, in root and user mode. */
function defaultCases(): Case[] {
  const imageConfig = {
    rootfs: { type: 'layers', diff_ids: [] },
    config: { Entrypoint: ['/usr/bin/srv'], Cmd: ['--port', '8080'], Env: ['PATH=/opt/bin:/usr/bin', 'LANG=C.UTF-8'], WorkingDir: '/srv', User: '1000:1000' },
  };
  const home = '/home/golden';
  return [
    { name: 'no-exports', input: rootInput('no-exports', {}) },
    { name: 'no-exports-image-config', input: rootInput('no-exports-image-config', {}, { image: { name: 'registry.example/golden/srv:1', id: IMAGE_ID, config: imageConfig } }) },
    {
      name: 'no-exports-user',
      input: rootInput('no-exports-user', {}, {
        user: true, hostUid: 1000, hostGid: 1000, destdir: `${home}/.local/share/containers/sysctr/no-exports-user.0`,
        env: { HOME: home, XDG_RUNTIME_DIR: '/run/user/1000' },
        capabilities: grantable({ kernel: KERNEL_CAPS, manager: 'user@1000.service (the user manager)' }),
      }),
    },
    { name: 'example', input: rootInput('example', readSourceDir(path.join(projectDir, 'fixtures/images/example'))) },
  ];
}

/** The files of one case as `sysctr render --out` writes them, with its warnings or its error. */
function rendered(c: Case): Map<string, string> {
  const out = new Map<string, string>();
  try {
    const r = renderDeployment(c.input);
    for (const [file, content] of installedFiles(c.name, r)) out.set(file, content);
    if (r.warnings.length) out.set('warnings', r.warnings.map((w) => `${w}\n`).join(''));
  } catch (err) {
    if (!(err instanceof SysctrError)) throw err;
    out.set('error', `${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
  }
  return out;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** Writes a case's files into a fresh dir beside the old one, then swaps it in. */
function writeCase(name: string, files: Map<string, string>): void {
  const dir = path.join(goldenDir, name);
  const tmp = path.join(goldenDir, `.${name}.new`);
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const [file, content] of files) {
    fs.mkdirSync(path.dirname(path.join(tmp, file)), { recursive: true });
    fs.writeFileSync(path.join(tmp, file), content);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
}

function check(t: Test, cases: Case[]): void {
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const files = rendered(c);
      if (updating) return void writeCase(c.name, files);
      const dir = path.join(goldenDir, c.name);
      t.same(filesUnder(dir), [...files.keys()].sort(), `the files of test/golden/${c.name} (npm run golden:update writes them anew)`);
      for (const [file, content] of files) {
        const p = path.join(dir, file);
        if (fs.existsSync(p)) t.equal(content, fs.readFileSync(p, 'utf8'), `${c.name}/${file} byte for byte`);
      }
    });
  }
}

const corpus: Case[] = compatImages().map((i) => ({ name: i.name, input: rootInput(i.name, readSourceDir(i.dir)) }));
// a manager whose bounding set lacks CAP_SYS_RESOURCE (bit 24): the cut config.json and its warning
const snmp = compatImages().find((i) => i.name === 'net-snmp');
if (snmp) {
  const mask = ((1n << 41n) - 1n) & ~(1n << 24n);
  const capabilities = grantable({ kernel: KERNEL_CAPS, mask, manager: 'PID 1 (the system manager)' });
  corpus.push({ name: 'net-snmp-no-sys-resource', input: rootInput('net-snmp-no-sys-resource', readSourceDir(snmp.dir), { capabilities }) });
}
const cases = [...defaultCases(), ...corpus];
t.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'one golden dir a case');

t.test('images without /exports, and the example image', async (t) => check(t, defaultCases()));

const why = missingCompat();
if (why) unmet(t, `${why}; the golden files of the corpus were not compared`);
else {
  t.test('the compat corpus', async (t) => {
    t.ok(corpus.length >= 15, `${corpus.length} cases`);
    check(t, corpus);
  });
  t.test('no golden dir without a case', async (t) => {
    const dirs = fs.readdirSync(goldenDir).filter((d) => !d.startsWith('.')).sort();
    const names = cases.map((c) => c.name).sort();
    if (!updating) return void t.same(dirs, names, 'stale golden dirs: npm run golden:update removes them');
    for (const d of dirs) if (!names.includes(d)) fs.rmSync(path.join(goldenDir, d), { recursive: true });
  });
}
