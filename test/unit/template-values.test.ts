/**
 * Values land as values: each substitution knows where it lands (lib/template/value-context.ts).
 * Unit tests of the rules, then `sysctr render` as a user runs it with hostile --set values and
 * manifest defaults, then Atomic's real templates (the compat corpus), which must render
 * byte-identical to plain substitution when their values are plain.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { parseTemplate, renderTokens } from '../../lib/template/engine.js';
import { encodeSystemdValue, isJsonFragment } from '../../lib/template/value-context.js';
import { kernelCapabilities } from '../../lib/runtime/capabilities.js';
import { allProcessCapabilities } from '../../lib/template/values.js';
import { projectDir, sysctr } from '../helpers/cli.js';
import { compatDir } from '../helpers/compat.js';
import { unmet } from '../helpers/prereq.js';

const render = (text: string, values: Record<string, string>, context: 'json' | 'systemd' | 'text') =>
  renderTokens('f', parseTemplate(text), values, { context }).text;
const thrown = (f: () => unknown): Error | undefined => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  return undefined;
};

t.test('json: inside a string a value is escaped; outside it must be a fragment', async (t) => {
  const tmpl = '{"env": ["A=$A"], "n": $N, "caps": [${CAPS}], "mounts": [{"d": "/x"} $MORE]}';
  const out = render(tmpl, { A: 'x", "INJECTED=1', N: '5', CAPS: '"CAP_A",\n"CAP_B"', MORE: ', {"d": "/y"}' }, 'json');
  const doc = JSON.parse(out);
  t.same(doc.env, ['A=x", "INJECTED=1'], 'a quote arrives as a quote: one entry, not two');
  t.same(doc.caps, ['CAP_A', 'CAP_B']);
  t.same(doc.mounts, [{ d: '/x' }, { d: '/y' }]);
  t.equal(JSON.parse(render('["$P"]', { P: 'C:\\new' }, 'json'))[0], 'C:\\new', 'a backslash is not decoded');
  t.equal(JSON.parse(render('["$P"]', { P: 'line1\nline2\u0001' }, 'json'))[0], 'line1\nline2\u0001');
  t.equal(render('["a\\"$P"]', { P: 'b"' }, 'json'), '["a\\"b\\""]', 'an escaped quote in the template does not end the string');
  for (const bad of ['1, "x": 2}', '] , "x": [', '{"a": 1', 'not json', '"open']) {
    const e = thrown(() => render('{"a": [$F]}', { F: bad }, 'json'));
    t.match(e?.message, /^f:1:8: the value of F \(.*\) is not JSON, and it lands outside a JSON string/, `refused: ${bad}`);
  }
  for (const good of ['', '1', '"s"', '"a", "b"', ', {"x": 1}', '"k": 1, "j": [2]', '{"x": 1},']) t.ok(isJsonFragment(good), `a fragment: ${good}`);
});

t.test('systemd: control characters refused, % doubled, no line continuation', async (t) => {
  const place = { file: 'service.template', name: 'X', line: 3, col: 7, next: '\n' };
  t.equal(encodeSystemdValue('100%n', place), '100%%n');
  t.equal(encodeSystemdValue('plain value /a/b', place), 'plain value /a/b');
  t.match(thrown(() => encodeSystemdValue('hi\nExecStartPost=/bin/touch /tmp/x', place))?.message, 'service.template:3:7: the value of X has a newline in it, which would start a new line in service.template; refused');
  t.match(thrown(() => encodeSystemdValue('a\rb', place))?.message, 'has a carriage return in it');
  t.match(thrown(() => encodeSystemdValue('a\u001bb', place))?.message, 'has a control character (U+001B) in it');
  t.match(thrown(() => encodeSystemdValue('C:\\', place))?.message, 'ends with a backslash at the end of a line');
  t.equal(encodeSystemdValue('C:\\', { ...place, next: ' more' }), 'C:\\', 'a backslash mid-line is harmless');
  t.equal(encodeSystemdValue('tab\there', place), 'tab\there', 'a tab is whitespace, not a line');
});

t.test('sysctr render refuses values that would inject, naming variable and file', async (t) => {
  const dir = t.testdir({
    exports: {
      'config.json.template': JSON.stringify({ ociVersion: '1.0.2', process: { terminal: false, args: ['/bin/sh'], env: ['MSG=$MSG'], cwd: '/' }, root: { path: 'rootfs', readonly: true } }),
      'service.template': '[Unit]\nDescription=$MSG\n\n[Service]\nExecStart=$EXEC_START\nExecStop=$EXEC_STOP\nWorkingDirectory=$DESTDIR\n',
      'tmpfiles.template': 'd /var/lib/$DIR 0700 root root - -\n',
      'manifest.json': JSON.stringify({ defaultValues: { MSG: 'hello', DIR: 'x' } }),
    },
  });
  const base = ['render', '--root', dir, '--runtime', '/bin/sh', '--name', 'val'];
  const ok = await sysctr([...base, '--set', 'MSG=100% x", "INJECTED=1', dir]);
  t.equal(ok.exitCode, 0, ok.stderr);
  const config = JSON.parse(/==> config\.json <==\n([\s\S]*?)\n==> /.exec(ok.stdout)![1]);
  t.same(config.process.env, ['MSG=100% x", "INJECTED=1'], 'one env entry, the value as given');
  t.match(ok.stdout, 'Description=100%% x", "INJECTED=1\n', '% written %% in the unit');

  const nl = await sysctr([...base, '--set', 'MSG=hi\nExecStartPost=/bin/touch /tmp/x', dir]);
  t.equal(nl.exitCode, 1);
  t.match(nl.stderr, 'service.template:2:13: the value of MSG has a newline in it');
  t.equal(nl.stdout, '', 'nothing rendered');
  const tmp = await sysctr([...base, '--set', 'DIR=x 0777 root root - -\nR /etc', dir]);
  t.match(tmp.stderr, 'tmpfiles.template:1:12: the value of DIR has a newline in it');
  const cont = await sysctr([...base, '--set', 'MSG=ends in \\', dir]);
  t.match(cont.stderr, 'the value of MSG ends with a backslash at the end of a line');

  const runtime = await sysctr([...base, '--set', 'RUNTIME=/bin/sh -c evil', dir]);
  t.equal(runtime.exitCode, 1, runtime.stderr);
  t.match(runtime.stderr, /RUNTIME \(from --set or the image's manifest\.json\): "\/bin\/sh -c evil": a runtime path may only have/);
  const missing = await sysctr([...base, '--set', 'RUNTIME=/nonexistent/runc', dir]);
  t.match(missing.stderr, 'RUNTIME (from --set or the image\'s manifest.json): runtime /nonexistent/runc does not exist');
  const pid = await sysctr([...base, '--set', 'PIDFILE=/run/x.pid\nExecStartPost=/bin/touch /tmp/y', dir]);
  t.match(pid.stderr, 'the value of PIDFILE');
  t.equal(pid.exitCode, 1);

  // a manifest default is a value like any other
  fs.writeFileSync(path.join(dir, 'exports/manifest.json'), JSON.stringify({ defaultValues: { MSG: 'evil\nExecStartPre=/bin/false', DIR: 'x' } }));
  const def = await sysctr([...base, dir]);
  t.match(def.stderr, 'service.template:2:13: the value of MSG has a newline in it');
  fs.writeFileSync(path.join(dir, 'exports/manifest.json'), JSON.stringify({ defaultValues: { MSG: 'm', DIR: 'x', RUNTIME: '/tmp/../bin/sh;x' } }));
  t.match((await sysctr([...base, dir])).stderr, /RUNTIME \(from --set or the image's manifest\.json\)/);
});

t.test("Atomic's templates render byte-identical to plain substitution with plain values", async (t) => {
  const corpus = path.join(compatDir, 'atomic-system-containers');
  if (!fs.existsSync(corpus)) return unmet(t, `the compat corpus is missing at ${corpus}`);
  let files = 0;
  for (const image of fs.readdirSync(corpus)) {
    const dir = path.join(corpus, image);
    const manifest = fs.existsSync(path.join(dir, 'manifest.json')) ? JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) : {};
    for (const [file, context] of [['config.json.template', 'json'], ['service.template', 'systemd'], ['tmpfiles.template', 'systemd']] as const) {
      const p = path.join(dir, file);
      if (!fs.existsSync(p)) continue;
      const parsed = parseTemplate(fs.readFileSync(p, 'utf8'));
      const values: Record<string, string> = {};
      for (const tok of parsed.tokens) if (tok.kind === 'var') values[tok.name] = manifest.defaultValues?.[tok.name] ?? `/plain/${tok.name.toLowerCase()}`;
      values.ALL_PROCESS_CAPABILITIES = allProcessCapabilities(kernelCapabilities());
      if ('ADDTL_MOUNTS' in values) values.ADDTL_MOUNTS = '';
      const plain = renderTokens(file, parsed, values, { context: 'text' }).text;
      t.equal(renderTokens(file, parsed, values, { context }).text, plain, `${image}/${file}`);
      files++;
    }
  }
  t.ok(files >= 20, `${files} templates compared`);
});
