/**
 * The one helper that decides what a test does without its prerequisites (test/helpers/prereq.ts):
 * a real tap test file run as its own process, with CI set and without, read as tap and a user
 * read it: the exit status, the TAP lines, the message on stderr.
 */
import t from 'tap';
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { underCI } from '../helpers/prereq.js';
import { projectDir } from '../helpers/cli.js';

t.test('underCI: set to anything but "", "0" or "false"', async (t) => {
  for (const v of ['true', '1', 'yes', 'TRUE']) t.equal(underCI({ CI: v }), true, `CI=${v}`);
  for (const v of [undefined, '', '0', 'false', 'False']) t.equal(underCI({ CI: v }), false, `CI=${v}`);
});

// tap runs this file with its TypeScript loader; the child gets the same one
const tsLoader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));

async function runChild(dir: string, env: Record<string, string | undefined>) {
  const file = path.join(dir, 'child.test.ts');
  const helper = pathToFileURL(path.join(projectDir, 'test/helpers/prereq.ts')).href;
  fs.writeFileSync(
    file,
    [
      "import t from 'tap';",
      `import { requirePrereqs, unmet } from ${JSON.stringify(helper)};`,
      "t.test('needs a frobnicator', async (t) => {",
      "  if (!requirePrereqs(t, ['sysctr-no-such-program-x1'], false)) return;",
      "  t.fail('ran without its prerequisite');",
      '});',
      "unmet(t, 'the corpus is missing at /nowhere');",
      "t.pass('the rest of the file runs');",
      '',
    ].join('\n'),
  );
  // a clean environment: no TAP_* of the parent run, so the child prints plain TAP
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(TAP|_TAPJS|NODE_OPTIONS$|CI$)/.test(k)) clean[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return execa(process.execPath, [...tsLoader, file], { env: clean, extendEnv: false, reject: false, cwd: projectDir });
}

t.test('without CI: a loud skip with the reason, and the file passes', { skip: tsLoader.length ? false : 'not run by tap with its TypeScript loader' }, async (t) => {
  const r = await runChild(t.testdir({}), {});
  t.equal(r.exitCode, 0, r.stdout + r.stderr);
  t.match(r.stdout, /ok \d+ - SKIPPED: missing prerequisites: sysctr-no-such-program-x1 \(scripts\/setup\.sh installs the programs\) # SKIP/);
  t.match(r.stdout, /ok \d+ - SKIPPED: the corpus is missing at \/nowhere # SKIP/);
  t.notMatch(r.stdout, /^\s*not ok/m, 'nothing failed');
  t.notMatch(r.stdout, /^\s*(not )?ok \d+ - ran without its prerequisite/m, 'the test body did not run');
  t.match(r.stdout, /ok \d+ - the rest of the file runs/);
  t.match(r.stderr, '*** SKIPPING needs a frobnicator: missing prerequisites: sysctr-no-such-program-x1');
  t.match(r.stderr, /\*\*\* SKIPPING \S*child\.test\.ts: the corpus is missing at \/nowhere \*\*\*/, "the file named");
});

t.test('with CI=true: each one a failure with the reason, and the file fails', { skip: tsLoader.length ? false : 'not run by tap with its TypeScript loader' }, async (t) => {
  const r = await runChild(t.testdir({}), { CI: 'true' });
  t.equal(r.exitCode, 1, r.stdout + r.stderr);
  t.match(r.stdout, /not ok \d+ - missing prerequisites: sysctr-no-such-program-x1 \(scripts\/setup\.sh installs the programs\) \(under CI every prerequisite must be there\)/);
  t.match(r.stdout, /not ok \d+ - the corpus is missing at \/nowhere \(under CI every prerequisite must be there\)/);
  t.notMatch(r.stdout, /# SKIP/, 'nothing skipped');
  t.notMatch(r.stdout, /^\s*(not )?ok \d+ - ran without its prerequisite/m, 'the test body did not run');
  t.notMatch(r.stderr, /SKIPPING/);
});
