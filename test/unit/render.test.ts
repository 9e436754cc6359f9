import t from 'tap';
import { renderDeployment, type RenderInput } from '../../lib/deploy/render.js';
import { SysctrError } from '../../lib/errors.js';
import { unmet } from '../helpers/prereq.js';

const CONFIG = `{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "args": ["/usr/bin/run.sh"],
    "env": ["PORT=$PORT", "NAME=\${NAME}", "PRICE=5$$"],
    "cwd": "/",
    "capabilities": { "bounding": [\${ALL_PROCESS_CAPABILITIES}] }
  },
  "root": { "path": "rootfs", "readonly": true },
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" }
    $ADDTL_MOUNTS
  ]
}
`;
const UNIT = `[Unit]
Description=test $NAME

[Service]
ExecStart=$EXEC_START
ExecStop=$EXEC_STOP
Restart=on-failure
WorkingDirectory=$DESTDIR

[Install]
WantedBy=multi-user.target
`;

function input(files: Record<string, string>, over: Partial<RenderInput> = {}): RenderInput {
  const exports: RenderInput['exports'] = {};
  for (const [k, v] of Object.entries(files)) exports[k] = Buffer.from(v);
  return {
    name: 'web', destdir: '/var/lib/containers/sysctr/web.0', exports, set: {}, runtime: '/usr/bin/runc',
    user: false, hostUid: 0, hostGid: 0, image: { name: 'example/web:1', id: 'sha256:1234' }, ...over,
  };
}

function caught(f: () => unknown): SysctrError | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof SysctrError) return e;
    throw e;
  }
  return undefined;
}

const manifest = JSON.stringify({ version: '1.0', defaultValues: { PORT: '8080', ADDTL_MOUNTS: '' } });

t.test('renders config, unit and tmpfiles with values', async (t) => {
  const r = renderDeployment(input({
    'config.json.template': CONFIG, 'service.template': UNIT, 'manifest.json': manifest,
    'tmpfiles.template': 'd ${RUN_DIRECTORY}/$NAME 0700 - - -\n',
  }, { set: { PORT: '9090' } }));
  const cfg = JSON.parse(r.configJson);
  t.same(cfg.process.env, ['PORT=9090', 'NAME=web', 'PRICE=5$']);
  t.ok(cfg.process.capabilities.bounding.includes('CAP_CHOWN'));
  t.match(r.unit, 'ExecStart=/usr/bin/runc run web\n');
  t.match(r.unit, `ExecStop=${r.values.EXEC_STOP}\n`, 'EXEC_STOP comes from the runtime commands');
  t.match(r.values.EXEC_STOP, 'web');
  t.match(r.unit, 'WorkingDirectory=/var/lib/containers/sysctr/web.0\n');
  t.equal(r.tmpfiles, 'd /run/web 0700 - - -\n');
  t.equal(r.detached, false);
  t.equal(r.values.PORT, '9090');
  t.equal(r.values.IMAGE_NAME, 'example/web:1');
  t.equal(r.values.EXEC_START, '/usr/bin/runc run web');
  t.same(r.manifest.defaultValues, { PORT: '8080', ADDTL_MOUNTS: '' });
});

t.test('PIDFILE and EXEC_STOPPOST in the unit (either spelling) select the detached form', async (t) => {
  const unit = UNIT.replace('Restart=', () => 'PIDFile=${PIDFILE}\nExecStopPost=$EXEC_STOPPOST\nRestart=');
  const r = renderDeployment(input({ 'config.json.template': CONFIG, 'service.template': unit, 'manifest.json': manifest }));
  t.equal(r.detached, true);
  t.match(r.unit, 'ExecStart=/usr/bin/runc run -d --pid-file /run/container-web.pid web');
  t.match(r.unit, 'PIDFile=/run/container-web.pid');
  const escaped = UNIT.replace('Restart=', () => 'PIDFile=$$PIDFILE\nExecStopPost=$EXEC_STOPPOST\nRestart=');
  t.equal(renderDeployment(input({ 'config.json.template': CONFIG, 'service.template': escaped, 'manifest.json': manifest })).detached, false, '$$PIDFILE is not a use');
});

t.test('no templates: the default config.json and the default unit', async (t) => {
  const r = renderDeployment(input({}, {
    image: { name: 'x', id: 'sha256:1', config: { rootfs: { type: 'layers', diff_ids: [] }, config: { Entrypoint: ['/bin/httpd'], Cmd: ['-f'], Env: ['A=1'], WorkingDir: '/srv' } } },
  }));
  const cfg = JSON.parse(r.configJson);
  t.same(cfg.process.args, ['/bin/httpd', '-f']);
  t.equal(cfg.process.terminal, false);
  t.equal(cfg.process.cwd, '/srv');
  t.ok(cfg.process.env.includes('A=1'));
  t.ok(cfg.process.env.some((e: string) => e.startsWith('PATH=')));
  t.same(cfg.root, { path: 'rootfs', readonly: true });
  t.notOk(cfg.linux.namespaces.some((n: { type: string }) => n.type === 'network'), 'host network');
  t.match(r.unit, /^\[Unit\]\nDescription=sysctr container web\n/);
  t.match(r.unit, 'ExecStart=/usr/bin/runc run web');
  t.match(r.unit, 'WorkingDirectory=/var/lib/containers/sysctr/web.0');
  t.match(r.unit, 'WantedBy=multi-user.target');
  t.equal(r.tmpfiles, '');
  const plain = JSON.parse(renderDeployment(input({})).configJson);
  t.same(plain.process.args, ['/usr/bin/run.sh'], 'no Entrypoint/Cmd: /usr/bin/run.sh');
});

t.test('a literal config.json is copied without substitution', async (t) => {
  const literal = CONFIG.replace(/\$\{?[A-Z_]+\}?/g, '').replace('$$', '$').replace('[]', '["CAP_KILL"]');
  const r = renderDeployment(input({ 'config.json': literal }));
  t.equal(r.configJson, literal);
});

t.test('a tmpfiles template that renders empty gives ""', async (t) => {
  const r = renderDeployment(input({ 'config.json.template': CONFIG, 'manifest.json': manifest, 'tmpfiles.template': '$ADDTL_MOUNTS\n\n' }));
  t.equal(r.tmpfiles, '');
});

t.test('errors name the file, line and column; nothing is returned', async (t) => {
  const noDefault = caught(() => renderDeployment(input({ 'config.json.template': CONFIG, 'service.template': UNIT })));
  t.equal(noDefault?.message, 'config.json.template:6:19: variable PORT has no value; set it with --set PORT=...');
  t.match(noDefault?.hint, /ADDTL_MOUNTS \(config\.json\.template:13:5\)/);

  const ro = caught(() => renderDeployment(input({ 'config.json.template': CONFIG.replace('"readonly": true', '"readonly": false'), 'manifest.json': manifest })));
  t.match(ro?.message, /^config\.json\.template:10:43: config\.json: root\.readonly must be true/);

  // a value inside a JSON string is JSON-escaped: a quote arrives as a quote
  const quoted = renderDeployment(input({ 'config.json.template': CONFIG, 'manifest.json': manifest }, { set: { PORT: 'a"b' } }));
  t.same(JSON.parse(quoted.configJson).process.env[0], 'PORT=a"b');
  // a syntax error of the template itself still points at its place
  const badJson = caught(() => renderDeployment(input({ 'config.json.template': CONFIG.replace('"cwd": "/",', '"cwd": "/" "x",'), 'manifest.json': manifest })));
  t.match(badJson?.message, /^config\.json\.template:7:15: config\.json: not valid JSON after rendering/);
  // a fragment outside a string must be JSON on its own
  const fragment = caught(() => renderDeployment(input({ 'config.json.template': CONFIG, 'manifest.json': manifest }, { set: { ADDTL_MOUNTS: '] , "x": [' } })));
  t.match(fragment?.message, /^config\.json\.template:13:5: the value of ADDTL_MOUNTS \("\] , \\"x\\": \["\) is not JSON, and it lands outside a JSON string/);

  const schema = caught(() => renderDeployment(input({ 'config.json.template': CONFIG.replace('"cwd": "/"', '"cwd": 7'), 'manifest.json': manifest })));
  t.match(schema?.message, /^config\.json\.template:7:12: config\.json: process\.cwd must be string/);

  const badManifest = caught(() => renderDeployment(input({ 'config.json.template': CONFIG, 'manifest.json': '{\n  "defaultValues": {\n    "PORT": 8080\n  }\n}' })));
  t.match(badManifest?.message, /^manifest\.json:3:13: defaultValues\.PORT must be string/);

  const invalid = caught(() => renderDeployment(input({ 'service.template': UNIT + 'Environment=X=$1\n' })));
  t.match(invalid?.message, /^service\.template:12:15: invalid placeholder "\$1"/);

  const forced = caught(() => renderDeployment(input({}, { set: { NAME: 'x' } })));
  t.equal(forced?.code, 2);
});

t.test('a kept UUID is reused, a --set one wins', async (t) => {
  const files = { 'config.json.template': CONFIG.replace('"PRICE=5$$"', '"U=$UUID"'), 'manifest.json': manifest };
  t.equal(renderDeployment(input(files, { keep: { UUID: 'k-1' } })).values.UUID, 'k-1');
  t.equal(renderDeployment(input(files, { keep: { UUID: 'k-1' }, set: { UUID: 's-2' } })).values.UUID, 's-2');
});

t.test('the default unit passes systemd-analyze verify', async (t) => {
  const { findSystemdAnalyze } = await import('../../lib/lint/systemd-verify.js');
  const analyze = await findSystemdAnalyze();
  if (!analyze) return unmet(t, 'systemd-analyze is not installed (package systemd)');
  const { execa } = await import('execa');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const dir = t.testdir({});
  const r = renderDeployment(input({}, { runtime: '/bin/true' }));
  const file = path.join(dir, 'web.service');
  fs.writeFileSync(file, r.unit);
  const v = await execa(analyze, ['verify', '--man=no', '--recursive-errors=no', file], { reject: false });
  t.equal(v.exitCode, 0, v.stderr);
  t.equal(`${v.stdout}${v.stderr}`.trim(), '', 'systemd has nothing to say');
});
