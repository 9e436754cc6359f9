/**
 * Health checks as declared (lib/runtime/healthcheck.ts): durations, manifest.json `healthcheck`,
 * the image config's Docker Healthcheck, which one wins, the gate's verdicts; and `sysctr lint`
 * reporting a bad one at its line and column.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  HEALTH_DEFAULTS, formatDuration, gateVerdict, gateWindowMs, healthFromImageConfig, healthFromManifest, parseDuration, resolveHealthcheck,
} from '../../lib/runtime/healthcheck.js';
import { lint } from '../../lib/lint/index.js';
import { readManifest } from '../../lib/rootfs/exports.js';

t.test('durations: seconds, Go-style units, combinations; the rest refused with where', async (t) => {
  t.equal(parseDuration(5, 'x'), 5000);
  t.equal(parseDuration(0.25, 'x'), 250);
  t.equal(parseDuration('30', 'x'), 30_000);
  t.equal(parseDuration('5s', 'x'), 5000);
  t.equal(parseDuration('500ms', 'x'), 500);
  t.equal(parseDuration('1m30s', 'x'), 90_000);
  t.equal(parseDuration('1h', 'x'), 3_600_000);
  t.equal(parseDuration('1.5s', 'x'), 1500);
  t.equal(parseDuration(' 2m ', 'x'), 120_000);
  t.equal(parseDuration('1500us', 'x'), 2); // rounded to the millisecond
  for (const bad of ['', 's', '5 s', '5x', '-1s', '1m30', 'soon', '1d']) {
    t.throws(() => parseDuration(bad, 'healthcheck.interval'), { message: /^healthcheck\.interval: ".*" is not a duration/ }, JSON.stringify(bad));
  }
  t.throws(() => parseDuration(-1, 'healthcheck.timeout'), { name: 'HealthcheckError', where: 'healthcheck.timeout' });
  t.throws(() => parseDuration(true, 'healthcheck.timeout'), { message: /healthcheck\.timeout: expected a duration/ });
});

t.test('manifest.json healthcheck: exec form, shell form, defaults, errors', async (t) => {
  t.same(healthFromManifest({ cmd: ['/bin/check', '-q'], interval: '2s', timeout: 1, startPeriod: '10s', retries: 5 }), {
    cmd: ['/bin/check', '-q'], intervalMs: 2000, timeoutMs: 1000, startPeriodMs: 10_000, retries: 5, source: 'manifest',
  });
  t.same(healthFromManifest({ cmd: 'wget -q -O- http://127.0.0.1:80/ | grep ok' }), {
    cmd: ['/bin/sh', '-c', 'wget -q -O- http://127.0.0.1:80/ | grep ok'], ...HEALTH_DEFAULTS, source: 'manifest',
  });
  t.equal(healthFromManifest({ cmd: ['x'], interval: 0 }).intervalMs, HEALTH_DEFAULTS.intervalMs, '0 means the default, as in Docker');
  t.throws(() => healthFromManifest({ cmd: [] }), { message: /^healthcheck\.cmd: is empty/ });
  t.throws(() => healthFromManifest({ cmd: [''] }), { message: /^healthcheck\.cmd: is empty/ });
  t.throws(() => healthFromManifest({ cmd: '  ' }), { message: /^healthcheck\.cmd: is empty/ });
  t.throws(() => healthFromManifest({ cmd: ['a', 3] }), { message: /^healthcheck\.cmd: every argument must be a string/ });
  t.throws(() => healthFromManifest({ interval: '1s' }), { message: /^healthcheck\.cmd: is missing/ });
  t.throws(() => healthFromManifest({ cmd: ['a'], retries: 0 }), { message: /^healthcheck\.retries: expected a whole number/ });
  t.throws(() => healthFromManifest({ cmd: ['a'], timeout: '3 seconds' }), { message: /^healthcheck\.timeout: "3 seconds" is not a duration/ });
  t.throws(() => healthFromManifest('wget'), { message: /^healthcheck: expected an object/ });
});

t.test('Docker Healthcheck in an image config: CMD, CMD-SHELL, NONE, nanoseconds', async (t) => {
  t.same(healthFromImageConfig({ Test: ['CMD', '/bin/check', 'x'], Interval: 5e9, Timeout: 2e9, StartPeriod: 1e10, Retries: 2 }), {
    cmd: ['/bin/check', 'x'], intervalMs: 5000, timeoutMs: 2000, startPeriodMs: 10_000, retries: 2, source: 'image',
  });
  t.same(healthFromImageConfig({ Test: ['CMD-SHELL', 'test -e /ok'] }), { cmd: ['/bin/sh', '-c', 'test -e /ok'], ...HEALTH_DEFAULTS, source: 'image' });
  t.equal(healthFromImageConfig({ Test: ['NONE'] }), undefined);
  t.equal(healthFromImageConfig({ Test: [] }), undefined);
  t.equal(healthFromImageConfig({ Test: null }), undefined);
  t.equal(healthFromImageConfig(undefined), undefined);
  t.equal(healthFromImageConfig(null), undefined);
  t.throws(() => healthFromImageConfig({ Test: ['CMD'] }), { message: /Healthcheck\.Test: has no command/ });
  t.throws(() => healthFromImageConfig({ Test: ['RUN', 'x'] }), { message: /starts with "RUN"/ });
});

t.test('manifest.json wins over the image config', async (t) => {
  const image = { Test: ['CMD', '/from/image'] };
  t.same(resolveHealthcheck({ cmd: ['/from/manifest'] }, image)?.cmd, ['/from/manifest']);
  t.same(resolveHealthcheck(undefined, image)?.cmd, ['/from/image']);
  t.equal(resolveHealthcheck(undefined, undefined), undefined);
});

t.test('the gate: a pass is healthy; start-period failures do not count; retries or the window end it', async (t) => {
  const h = healthFromManifest({ cmd: ['x'], interval: '1s', startPeriod: '3s', retries: 2 });
  t.equal(gateWindowMs(h), 5000);
  t.equal(gateVerdict(h, { passed: true, elapsedMs: 0, failuresAfterStart: 0 }), 'healthy');
  t.equal(gateVerdict(h, { passed: false, elapsedMs: 100, failuresAfterStart: 0 }), 'wait');
  t.equal(gateVerdict(h, { passed: false, elapsedMs: 3500, failuresAfterStart: 1 }), 'wait');
  t.equal(gateVerdict(h, { passed: false, elapsedMs: 4500, failuresAfterStart: 2 }), 'unhealthy');
  t.equal(gateVerdict(h, { passed: false, elapsedMs: 5000, failuresAfterStart: 1 }), 'unhealthy', 'the window is over');
  t.equal(formatDuration(500), '500ms');
  t.equal(formatDuration(5000), '5s');
  t.equal(formatDuration(90_000), '1m30s');
});

t.test('install and lint: a bad healthcheck is refused at its line and column', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-health-lint-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (hc: string) => {
    const text = `{\n  "defaultValues": {},\n  "healthcheck": ${hc}\n}\n`;
    fs.writeFileSync(path.join(dir, 'manifest.json'), text);
    return text;
  };
  const schemaFindings = async () =>
    (await lint([dir], { noSystemd: true })).findings.filter((f) => f.rule === 'manifest-schema').map((f) => `${f.line}:${f.column} ${f.message}`);

  write('{ "cmd": ["/bin/check"],\n    "interval": "5x" }');
  t.same(await schemaFindings(), ['4:17 healthcheck.interval is not a duration: write seconds (30) or a number with a unit (500ms, 5s, 1m30s, 1h)']);
  t.throws(() => readManifest({ 'manifest.json': fs.readFileSync(path.join(dir, 'manifest.json')) }), { message: /^manifest\.json:4:17: healthcheck\.interval is not a duration/ });

  write('{ "cmd": [] }');
  t.same(await schemaFindings(), ['3:27 healthcheck.cmd is empty: give the program and its arguments, e.g. ["/bin/check", "--quiet"]']);
  write('{ "cmd": "" }');
  t.same(await schemaFindings(), ['3:27 healthcheck.cmd is empty: give the command to run in the container']);
  write('{ "cmd": [""] }');
  t.same(await schemaFindings(), ['3:28 healthcheck.cmd[0] is empty: give the program and its arguments, e.g. ["/bin/check", "--quiet"]']);
  write('{ "interval": "5s" }');
  t.match((await schemaFindings())[0], /^3:3 healthcheck missing required member "cmd"/);
  write('{ "cmd": ["/bin/check"], "retries": 0, "every": "1s" }');
  t.same((await schemaFindings()).length, 2, 'retries below 1 and an unknown member');

  write('{ "cmd": ["/bin/check"], "interval": "1m30s", "timeout": 3, "startPeriod": "500ms", "retries": 2 }');
  t.same(await schemaFindings(), [], 'a valid one: no finding');
  t.notOk((await lint([dir], { noSystemd: true })).findings.some((f) => f.rule === 'manifest-unknown-key'), 'healthcheck is a known member');
});
