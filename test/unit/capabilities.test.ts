/**
 * What sysctr grants (pure logic): capability masks from /proc status texts, the kernel's list cut
 * to the manager's bounding set, config.json edited to leave out what cannot be granted, the
 * warnings, and the manager found in a /proc tree written by the test.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import {
  CAPABILITY_NAMES, capabilitiesToDrop, capabilityWarnings, grantable, grantableConfig,
  namesInMask, parseCapMask, removeCapabilities, statusCapMask,
} from '../../lib/runtime/capabilities.js';
import { allProcessCapabilities } from '../../lib/template/values.js';
import { parseJsonWithLocations } from '../../lib/template/json-locate.js';
import { findUserManager, managerCapabilities } from '../../lib/runtime/manager-caps.js';
import { renderDeployment, type RenderInput } from '../../lib/deploy/render.js';
import { readSourceDir } from '../../lib/rootfs/exports.js';
import { projectDir } from '../helpers/cli.js';
import { compatDir } from '../helpers/compat.js';
import { unmet } from '../helpers/prereq.js';

const FULL = 0x1ffffffffffn; // 41 capabilities, CAP_CHOWN..CAP_CHECKPOINT_RESTORE
const NO_SYS_RESOURCE = 0x1fffeffffffn; // the hosts of this kind: bit 24 missing
const REDUCED = FULL & ~(1n << 24n) & ~(1n << 25n); // CAP_SYS_RESOURCE and CAP_SYS_TIME dropped
const kernel = [...CAPABILITY_NAMES];
const manager = 'PID 1, the system manager that runs the unit,';

t.test('masks: /proc status hex, fields, names by bit', async (t) => {
  t.equal(parseCapMask('000001fffeffffff'), NO_SYS_RESOURCE);
  t.equal(parseCapMask(' 0000000000000000\n'), 0n);
  t.throws(() => parseCapMask('zz'), /not a capability mask: "zz"/);
  t.throws(() => parseCapMask(''), /not a capability mask/);
  const status = 'Name:\tsystemd\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n';
  t.equal(statusCapMask(status), NO_SYS_RESOURCE);
  t.equal(statusCapMask(status, 'CapPrm'), FULL);
  t.equal(statusCapMask('Name:\tx\n'), undefined, 'no CapBnd line');
  t.same(namesInMask(FULL), kernel);
  t.same(kernel.filter((n) => !namesInMask(NO_SYS_RESOURCE).includes(n)), ['CAP_SYS_RESOURCE']);
  t.same(namesInMask(0b100001n), ['CAP_CHOWN', 'CAP_KILL']);
  t.same(namesInMask(FULL, ['CAP_KILL', 'CAP_NOT_A_CAP']), ['CAP_KILL'], 'a name outside the table has no bit');
});

t.test('grantable: the kernel list cut to the bounding set, kernel order kept', async (t) => {
  const g = grantable({ kernel, mask: REDUCED, manager });
  t.equal(g.names.length, kernel.length - 2);
  t.notOk(g.names.includes('CAP_SYS_RESOURCE') || g.names.includes('CAP_SYS_TIME'));
  t.same(g.names.slice(22, 25), ['CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_TTY_CONFIG']);
  // an older kernel (cap_last_cap 37): its list, whatever the mask says beyond it
  t.same(grantable({ kernel: kernel.slice(0, 38), mask: FULL, manager }).names, kernel.slice(0, 38));
  t.same(grantable({ kernel, manager }).names, kernel, 'no mask: nothing cut');
  t.equal(allProcessCapabilities(g.names).split(',\n').length, kernel.length - 2);
});

// the layouts images use: Atomic's tab-indented lists, and arrays on one line
const TEMPLATE = `{
\t"process": {
\t\t"capabilities": {
\t\t\t"bounding": [
\t\t\t\t"CAP_CHOWN",
\t\t\t\t"CAP_SYS_RESOURCE",
\t\t\t\t"CAP_SYS_TIME",
\t\t\t\t"CAP_KILL"
\t\t\t],
\t\t\t"effective": ["CAP_KILL", "CAP_SYS_TIME", "CAP_SYS_RESOURCE"],
\t\t\t"permitted": ["CAP_SYS_RESOURCE"],
\t\t\t"inheritable": ["CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_KILL"],
\t\t\t"ambient": []
\t\t}
\t},
\t"root": { "path": "rootfs", "readonly": true }
}
`;

t.test('config.json edited in place: first, middle, last, several in a row, all', async (t) => {
  const g = grantable({ kernel, mask: REDUCED, manager });
  const doc = parseJsonWithLocations(TEMPLATE);
  const dropped = capabilitiesToDrop(doc.value, g);
  t.same(dropped, [
    { name: 'CAP_SYS_RESOURCE', sets: ['bounding', 'effective', 'permitted', 'inheritable'], why: 'bounding' },
    { name: 'CAP_SYS_TIME', sets: ['bounding', 'effective', 'inheritable'], why: 'bounding' },
  ]);
  const { text } = grantableConfig(TEMPLATE, doc, g);
  t.equal(text, `{
\t"process": {
\t\t"capabilities": {
\t\t\t"bounding": [
\t\t\t\t"CAP_CHOWN",
\t\t\t\t"CAP_KILL"
\t\t\t],
\t\t\t"effective": ["CAP_KILL"],
\t\t\t"permitted": [],
\t\t\t"inheritable": ["CAP_KILL"],
\t\t\t"ambient": []
\t\t}
\t},
\t"root": { "path": "rootfs", "readonly": true }
}
`);
  t.same(JSON.parse(removeCapabilities('{"process":{"capabilities":{"bounding":["CAP_A","CAP_B","CAP_C","CAP_D"]}}}', parseJsonWithLocations('{"process":{"capabilities":{"bounding":["CAP_A","CAP_B","CAP_C","CAP_D"]}}}'), new Set(['CAP_A', 'CAP_C', 'CAP_D']))), { process: { capabilities: { bounding: ['CAP_B'] } } });
  for (const drop of [['CAP_A'], ['CAP_B'], ['CAP_A', 'CAP_B'], ['CAP_B', 'CAP_C'], ['CAP_A', 'CAP_B', 'CAP_C']]) {
    const src = '{"process": {"capabilities": {"bounding": [ "CAP_A" ,\n "CAP_B",  "CAP_C" ]}}}';
    const got = JSON.parse(removeCapabilities(src, parseJsonWithLocations(src), new Set(drop))).process.capabilities.bounding;
    t.same(got, ['CAP_A', 'CAP_B', 'CAP_C'].filter((c) => !drop.includes(c)), `dropping ${drop.join(' ')}`);
  }
});

t.test('nothing outside the set: the very same text', async (t) => {
  const g = grantable({ kernel, mask: FULL, manager });
  const doc = parseJsonWithLocations(TEMPLATE);
  const r = grantableConfig(TEMPLATE, doc, g);
  t.equal(r.text, TEMPLATE);
  t.same(r.dropped, []);
  t.same(capabilityWarnings(r.dropped, g), []);
  t.same(capabilitiesToDrop({ process: {} }, g), [], 'no capabilities at all');
});

t.test('names the kernel does not know: dropped as unknown, unless the kernel knows more than the table', async (t) => {
  const src = '{"process":{"capabilities":{"effective":["CAP_KILL","CAP_NOT_A_CAP","CAP_BPF"]}}}';
  const older = grantable({ kernel: kernel.slice(0, 38), mask: FULL, manager }); // cap_last_cap 37: no CAP_PERFMON, CAP_BPF
  const d = capabilitiesToDrop(JSON.parse(src), older);
  t.same(d, [{ name: 'CAP_BPF', sets: ['effective'], why: 'unknown' }, { name: 'CAP_NOT_A_CAP', sets: ['effective'], why: 'unknown' }]);
  t.same(JSON.parse(grantableConfig(src, parseJsonWithLocations(src), older).text).process.capabilities.effective, ['CAP_KILL']);
  t.same(capabilityWarnings(d, older), [
    'config.json names CAP_BPF, CAP_NOT_A_CAP (process.capabilities effective), which this kernel does not know (runc ignores such names); left out of config.json',
  ]);
  const newer = grantable({ kernel, mask: FULL, manager, kernelBeyondTable: true });
  t.same(capabilitiesToDrop(JSON.parse(src), newer), [], 'a newer kernel may know CAP_NOT_A_CAP: runc decides');
});

t.test('warnings name the capabilities, the sets, whose bounding set, and the stand-in', async (t) => {
  const g = grantable({ kernel, mask: REDUCED, manager });
  const dropped = capabilitiesToDrop(parseJsonWithLocations(TEMPLATE).value, g);
  t.same(capabilityWarnings(dropped, g, ['CAP_SYS_RESOURCE', 'CAP_SYS_TIME']), [
    'ALL_PROCESS_CAPABILITIES leaves out CAP_SYS_RESOURCE, CAP_SYS_TIME: the bounding set of PID 1, the system manager that runs the unit, lacks them; the service runs without them',
    'config.json asks for CAP_SYS_RESOURCE, CAP_SYS_TIME (process.capabilities bounding, effective, permitted, inheritable), but the bounding set of PID 1, the system manager that runs the unit, lacks them, ' +
      'so runc cannot grant them (asked to, it fails: "unable to apply caps: operation not permitted"); left out of config.json: the service runs without them',
  ]);
  const stand = grantable({ kernel, mask: NO_SYS_RESOURCE, manager: 'the service manager of user 1000 that runs the unit', note: 'no user@1000.service was found; sysctr\'s own bounding set stands in for it' });
  t.ok(capabilityWarnings([{ name: 'CAP_SYS_RESOURCE', sets: ['effective'], why: 'bounding' }], stand)[0].startsWith(
    "config.json asks for CAP_SYS_RESOURCE (process.capabilities effective), but the bounding set of the service manager of user 1000 that runs the unit lacks it (no user@1000.service was found; sysctr's own bounding set stands in for it), so runc",
  ), 'the stand-in and why');
});

/** A /proc tree: PID 1, sysctr itself, and other processes with their status, cgroup, cmdline. */
function fakeProc(t: Test, procs: Record<string, { uid?: number; capbnd?: string; cgroup?: string; cmdline?: string[] }>): string {
  const dir = t.testdir({});
  for (const [pid, p] of Object.entries(procs)) {
    fs.mkdirSync(path.join(dir, pid));
    fs.writeFileSync(path.join(dir, pid, 'status'), `Name:\tx\nUid:\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\n${p.capbnd ? `CapBnd:\t${p.capbnd}\n` : ''}`);
    fs.writeFileSync(path.join(dir, pid, 'cgroup'), p.cgroup ?? '0::/init.scope\n');
    fs.writeFileSync(path.join(dir, pid, 'cmdline'), (p.cmdline ?? ['/bin/sh']).join('\0') + '\0');
  }
  fs.writeFileSync(path.join(dir, 'cap_last_cap'), '40\n');
  return dir;
}

t.test('the manager: PID 1 in system mode, the user manager in user mode, a stand-in with a reason', async (t) => {
  const proc = fakeProc(t, {
    1: { capbnd: '000001fffeffffff' },
    self: { capbnd: '000001ffffffffff' },
    700: { uid: 1000, capbnd: '000001ffffffffff', cgroup: '0::/user.slice/user-1000.slice/session-1.scope\n' },
    812: { uid: 1000, capbnd: '000001fffdffffff', cgroup: '0::/user.slice/user-1000.slice/user@1000.service/init.scope\n', cmdline: ['/lib/systemd/systemd', '--user'] },
    900: { uid: 0, capbnd: '000001fffcffffff', cgroup: '0::/system.slice/sysctr-test-user-manager.service\n', cmdline: ['/lib/systemd/systemd', '--user'] },
  });
  const o = { procDir: proc, capLastCapFile: path.join(proc, 'cap_last_cap') };
  const sys = managerCapabilities({ ...o, user: false, uid: 0 });
  t.same(kernel.filter((n) => !sys.names.includes(n)), ['CAP_SYS_RESOURCE'], "PID 1's CapBnd");
  t.equal(sys.manager, 'PID 1, the system manager that runs the unit,');
  t.equal(sys.note, undefined);
  t.equal(findUserManager(1000, proc), 812, 'by its cgroup, user@1000.service/init.scope');
  const u = managerCapabilities({ ...o, user: true, uid: 1000 });
  t.same(kernel.filter((n) => !u.names.includes(n)), ['CAP_SYS_TIME'], "the user manager's CapBnd, not PID 1's");
  t.match(u.manager, /^PID 812, the service manager of user 1000/);
  t.equal(findUserManager(0, proc), 900, 'by its command line, systemd --user of that user');
  const none = managerCapabilities({ ...o, user: true, uid: 4242 });
  t.same(kernel.filter((n) => !none.names.includes(n)), ['CAP_SYS_RESOURCE'], "sysctr's own CapBnd cut to PID 1's");
  t.equal(none.note, "no user@4242.service or systemd --user process of user 4242 was found; sysctr's own bounding set, cut to PID 1's, stands in for it");
  fs.rmSync(path.join(proc, '1'), { recursive: true });
  const noPid1 = managerCapabilities({ ...o, user: false, uid: 0 });
  t.same(noPid1.names, kernel, "sysctr's own (full) set");
  t.match(noPid1.note, /1\/status could not be read; sysctr's own bounding set stands in for it/);
});

const EXAMPLE = path.join(projectDir, 'fixtures/images/example');
const base = (exportsDir: string, over: Partial<RenderInput> = {}): RenderInput => ({
  name: 'cap-web', destdir: '/var/lib/containers/sysctr/cap-web.0', exports: readSourceDir(exportsDir), set: { PORT: '80', MESSAGE: 'm', UUID: 'fixed' },
  runtime: '/usr/sbin/runc', user: false, hostUid: 0, hostGid: 0, ...over,
});

t.test('rendering: a full set changes nothing; a reduced one cuts ALL_PROCESS_CAPABILITIES and the literal names, and says so', async (t) => {
  const today = renderDeployment(base(EXAMPLE));
  const full = renderDeployment(base(EXAMPLE, { capabilities: grantable({ kernel, mask: FULL, manager }) }));
  t.equal(full.configJson, today.configJson, 'byte-identical to the rendering without a manager');
  t.same(full.warnings, []);
  const reduced = renderDeployment(base(EXAMPLE, { capabilities: grantable({ kernel, mask: REDUCED, manager }) }));
  const cfg = JSON.parse(reduced.configJson);
  t.equal(cfg.process.capabilities.bounding.length, kernel.length - 2);
  t.notOk(cfg.process.capabilities.bounding.includes('CAP_SYS_RESOURCE'));
  t.same(reduced.warnings, ['ALL_PROCESS_CAPABILITIES leaves out CAP_SYS_RESOURCE, CAP_SYS_TIME: the bounding set of PID 1, the system manager that runs the unit, lacks them; the service runs without them']);
  // --set ALL_PROCESS_CAPABILITIES: the value given, its names checked like literal ones
  const set = renderDeployment(base(EXAMPLE, { set: { PORT: '80', MESSAGE: 'm', ALL_PROCESS_CAPABILITIES: '"CAP_KILL", "CAP_SYS_TIME"' }, capabilities: grantable({ kernel, mask: REDUCED, manager }) }));
  t.same(JSON.parse(set.configJson).process.capabilities.bounding, ['CAP_KILL']);
  t.equal(set.warnings.length, 1);
  t.match(set.warnings[0], /^config\.json asks for CAP_SYS_TIME \(process\.capabilities bounding\)/);
  // an image without config.json: the generated default is cut the same way
  const bare = renderDeployment({ ...base(EXAMPLE), exports: {}, capabilities: grantable({ kernel, mask: FULL & ~(1n << 10n), manager }) });
  t.same(JSON.parse(bare.configJson).process.capabilities.effective, ['CAP_AUDIT_WRITE', 'CAP_KILL']);
  t.match(bare.warnings[0], /^config\.json asks for CAP_NET_BIND_SERVICE \(process\.capabilities bounding, effective, permitted, ambient\)/);
});

const compat = path.join(compatDir, 'atomic-system-containers');
if (!fs.existsSync(compat)) unmet(t, `the compat corpus is missing at ${compat}`);
else t.test('the Atomic images: the same bytes with a full set; net-snmp without CAP_SYS_RESOURCE on a reduced one', async (t) => {
  for (const d of fs.readdirSync(compat).sort()) {
    const input = { ...base(path.join(compat, d)), set: {} };
    let today: string;
    try {
      today = renderDeployment(input).configJson;
    } catch {
      continue; // those that need --set or are broken: lint-compat.test.ts
    }
    t.equal(renderDeployment({ ...input, capabilities: grantable({ kernel, mask: FULL, manager }) }).configJson, today, `${d}: unchanged`);
  }
  const snmp = renderDeployment({ ...base(path.join(compat, 'net-snmp')), set: {}, capabilities: grantable({ kernel, mask: NO_SYS_RESOURCE, manager }) });
  t.notMatch(snmp.configJson, /CAP_SYS_RESOURCE/);
  t.match(snmp.configJson, /"CAP_SYS_NICE",\n\t\t\t\t\t"CAP_SYS_TIME",/, 'the image\'s own layout');
  t.equal(snmp.warnings.length, 1);
  t.match(snmp.warnings[0], /^config\.json asks for CAP_SYS_RESOURCE \(process\.capabilities bounding, effective, permitted, inheritable, ambient\)/);
});
