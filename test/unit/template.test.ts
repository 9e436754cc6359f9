import t from 'tap';
import { listVariables, parseTemplate, renderTemplate, renderTokens, sourcePosition } from '../../lib/template/engine.js';
import { SysctrError } from '../../lib/errors.js';
import { kernelCapabilities } from '../../lib/runtime/capabilities.js';
import { allProcessCapabilities } from '../../lib/template/values.js';
import { parseJsonWithLocations, locatePointer, JsonSyntaxError } from '../../lib/template/json-locate.js';
import { parseSetArgs, resolveValues } from '../../lib/template/values.js';

function caught(f: () => unknown): Error | undefined {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

t.test('$NAME, ${NAME} and $$ as Python string.Template', async (t) => {
  t.equal(renderTemplate('f', 'a $X b ${Y}c $$ $$X', { X: '1', Y: '2' }), 'a 1 b 2c $ $X');
  t.equal(renderTemplate('f', '$X_1${X}', { X_1: 'a', X: 'b' }), 'ab');
  t.equal(renderTemplate('f', '$_x.$x', { _x: 'u', x: 'l' }), 'u.l');
  t.equal(renderTemplate('f', 'no placeholders', {}), 'no placeholders');
  t.equal(renderTemplate('f', '"${A}$B"', { A: '', B: 'q' }), '"q"');
});

t.test('tokens carry 1-based line and column', async (t) => {
  const p = parseTemplate('x\n  $A\n\t${B} $$\n');
  const vars = p.tokens.filter((x) => x.kind === 'var');
  t.same(vars.map((v) => [v.kind === 'var' && v.name, v.line, v.col]), [['A', 2, 3], ['B', 3, 2]]);
  const dollar = p.tokens.find((x) => x.kind === 'dollar');
  t.same([dollar?.line, dollar?.col], [3, 7]);
});

t.test('invalid placeholders are errors with file:line:col', async (t) => {
  const cases: Array<[string, number, number, RegExp]> = [
    ['$1', 1, 1, /invalid placeholder "\$1"/],
    ['ok\nx $(cmd)', 2, 3, /invalid placeholder "\$\("/],
    ['${A', 1, 1, /"\$\{" is not closed/],
    ['${1}', 1, 1, /invalid placeholder "\$\{1\}"/],
    ['cost: 5$', 1, 8, /lone "\$" at the end/],
    ['a $ b', 1, 3, /invalid placeholder "\$ "/],
  ];
  for (const [text, line, col, re] of cases) {
    const e = caught(() => renderTemplate('service.template', text, { A: 'x' }));
    t.ok(e instanceof SysctrError, text);
    t.match(e?.message, new RegExp(`^service\\.template:${line}:${col}: `), text);
    t.match(e?.message, re, text);
  }
  t.equal(parseTemplate('$1 and $(x) and $').invalid.length, 3, 'every invalid placeholder is collected');
});

t.test('an undefined variable names file, position, and the --set to use', async (t) => {
  const text = '[Service]\n\n\n\n\n\nEnvironment=${VAR_WITH_NO_DEFAULT}\n';
  t.throws(() => renderTemplate('service.template', text, {}), {
    message: 'service.template:7:13: variable VAR_WITH_NO_DEFAULT has no value; set it with --set VAR_WITH_NO_DEFAULT=...',
  });
  try {
    renderTemplate('f', '$A $B $A', {});
  } catch (e) {
    t.match((e as SysctrError).hint, /B \(f:1:4\)/, 'the others are listed in the hint');
  }
});

t.test('listVariables: each once, in order; $$NAME is not a variable', async (t) => {
  t.same(listVariables('$B ${A} $B $$C ${D}'), ['B', 'A', 'D']);
});

t.test('sourcePosition maps rendered offsets back to the template, across multi-line values', async (t) => {
  const p = parseTemplate('[\n  ${CAPS}\n], "x": $BAD\n');
  const r = renderTokens('f', p, { CAPS: '"A",\n"B",\n"C"', BAD: 'oops' });
  t.same(sourcePosition(r, r.text.indexOf('"C"')), { line: 2, col: 3 }, 'inside a value: the placeholder');
  t.same(sourcePosition(r, r.text.indexOf(']')), { line: 3, col: 1 }, 'text after a multi-line value keeps template lines');
  t.same(sourcePosition(r, r.text.indexOf('oops')), { line: 3, col: 9 });
});

t.test('ALL_PROCESS_CAPABILITIES follows the kernel', async (t) => {
  const caps = kernelCapabilities();
  t.equal(caps[0], 'CAP_CHOWN');
  t.ok(caps.includes('CAP_SYS_ADMIN'));
  const v = allProcessCapabilities(['CAP_A', 'CAP_B']);
  t.equal(v, '"CAP_A",\n"CAP_B"');
  t.same(JSON.parse(`[${allProcessCapabilities(caps)}]`), caps, 'valid inside a JSON array');
});

t.test('JSON locations: pointers to offsets, syntax errors with offsets', async (t) => {
  const text = '{\n  "a": {"b": [1, {"c": true}]},\n  "d/e": "x"\n}';
  const doc = parseJsonWithLocations(text);
  t.same(doc.value, JSON.parse(text));
  t.equal(text.slice(locatePointer(doc, '/a/b/1/c'), locatePointer(doc, '/a/b/1/c') + 3), '"c"');
  t.equal(text.slice(locatePointer(doc, '/a/b/1/c', 'value')).slice(0, 4), 'true');
  t.equal(text.slice(locatePointer(doc, '/d~1e')).slice(0, 5), '"d/e"');
  t.equal(locatePointer(doc, '/a/missing'), locatePointer(doc, '/a'), 'missing: the nearest parent');
  const e = caught(() => parseJsonWithLocations('{"a": [1,]}'));
  t.ok(e instanceof JsonSyntaxError && e.offset === 8, 'trailing comma: at the comma');
  const m = caught(() => parseJsonWithLocations('{\n  "a": 1\n  "b": 2\n}'));
  t.ok(m instanceof JsonSyntaxError && m.offset === 10, 'missing comma: right after the value before it');
  t.ok(caught(() => parseJsonWithLocations('{"a": 1} x')) instanceof JsonSyntaxError, 'text after the value');
  t.same(parseJsonWithLocations('{"a":1,"a":2}').duplicateKeys, ['/a']);
});

t.test('--set parsing', async (t) => {
  t.same(parseSetArgs(['A=1', 'B=', 'C=x=y']), { A: '1', B: '', C: 'x=y' });
  t.throws(() => parseSetArgs(['A']), { code: 2, message: /expected NAME=VALUE/ });
  t.throws(() => parseSetArgs(['1A=x']), { code: 2 });
  t.throws(() => parseSetArgs(['NAME=x']), { code: 2, message: /NAME is set by sysctr/ });
  t.throws(() => parseSetArgs(['EXEC_START=x']), { code: 2 });
});

t.test('value precedence: forced > --set > manifest > kept > OS defaults', async (t) => {
  const base = {
    name: 'svc', destdir: '/r/svc.0', user: false, hostUid: 0, hostGid: 0, runtime: '/usr/sbin/runc',
    imageName: 'img:1', imageId: 'sha256:abc', capabilities: ['CAP_CHOWN', 'CAP_KILL'],
  };
  const v = resolveValues({ ...base, set: { PORT: '9' }, manifestDefaults: { PORT: '1', RUN_DIRECTORY: '/mrun', NAME: 'evil' } });
  t.equal(v.PORT, '9', '--set beats manifest');
  t.equal(v.RUN_DIRECTORY, '/mrun', 'manifest beats OS default');
  t.equal(v.PIDFILE, '/mrun/container-svc.pid', 'PIDFILE follows the final RUN_DIRECTORY');
  t.equal(v.NAME, 'svc', 'forced beats manifest');
  t.equal(v.STATE_DIRECTORY, '/var/lib');
  t.equal(v.CONF_DIRECTORY, '/etc');
  t.equal(v.DESTDIR, '/r/svc.0');
  t.equal(v.IMAGE_ID, 'sha256:abc');
  t.equal(v.RUNTIME, '/usr/sbin/runc');
  t.match(v.UUID, /^[0-9a-f-]{36}$/);
  const kept = resolveValues({ ...base, set: {}, manifestDefaults: {}, keep: { UUID: 'kept-uuid' } });
  t.equal(kept.UUID, 'kept-uuid', 'a kept UUID survives an update');
  t.equal(resolveValues({ ...base, set: { UUID: 'mine' }, manifestDefaults: {}, keep: { UUID: 'k' } }).UUID, 'mine');
  const user = resolveValues({ ...base, user: true, hostUid: 1000, set: {}, manifestDefaults: {}, env: { HOME: '/home/u', XDG_RUNTIME_DIR: '/run/user/1000' } });
  t.same([user.RUN_DIRECTORY, user.STATE_DIRECTORY, user.CONF_DIRECTORY], ['/run/user/1000', '/home/u/.local/share', '/home/u/.config']);
  t.throws(() => resolveValues({ ...base, set: { DESTDIR: '/x' }, manifestDefaults: {} }), { code: 2 });
});
