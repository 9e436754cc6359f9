/**
 * The unit model (lib/systemd/unit-file.ts): read as systemd.syntax(7) says, positions exact, and
 * written back byte for byte: every service.template of the compat corpus and every unit and
 * drop-in the host's systemd ships.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { UnitFile, parseUnitFile } from '../../lib/systemd/unit-file.js';
import { projectDir } from '../helpers/cli.js';
import { unmet } from '../helpers/prereq.js';
import { compatDir } from '../helpers/compat.js';

// the corpus sits beside the checkout; SYSCTR_COMPAT_DIR names it from elsewhere (a worktree)
const compat = compatDir;

function filesUnder(dir: string, keep: (f: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && keep(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

t.test('sections, repeated keys, continuations, comments, positions', async (t) => {
  const u = parseUnitFile([
    '# comment',
    '[Unit]',
    'Description=a ; not a comment mid-line',
    '[Service]',
    'ExecStartPre=/bin/a',
    'ExecStartPre=/bin/b',
    'Environment=A=1 \\',
    '# a comment inside the continuation',
    '  B=2',
    '  ExecStart =  $EXEC_START',
    'junk line',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n'));
  t.same(u.sections.map((s) => [s.name, s.line]), [['Unit', 2], ['Service', 4], ['Install', 12]]);
  t.equal(u.get('Unit', 'Description'), 'a ; not a comment mid-line');
  t.same(u.getAll('Service', 'ExecStartPre'), ['/bin/a', '/bin/b']);
  const env = u.last('Service', 'Environment');
  t.equal(env?.value, 'A=1  B=2', 'the backslash becomes a space, the comment inside is skipped');
  t.equal(env?.line, 7);
  const start = u.last('Service', 'ExecStart');
  t.same([start?.line, start?.col, start?.valueCol, start?.value], [10, 3, 16, '$EXEC_START']);
  t.same(u.errors.map((e) => [e.line, e.col]), [[11, 1]]);
  t.match(parseUnitFile('Foo=bar\n').errors[0].message, /outside any section/);
  t.match(parseUnitFile('[Service\n').errors[0].message, /bad section header/);
  t.match(parseUnitFile('[Service]\nBad Key=1\n').errors[0].message, /not a valid key name/);
  t.ok(u.has('Install', 'WantedBy'));
  t.notOk(u.has('Unit', 'WantedBy'), 'a key belongs to its section');
  t.equal(u.get('Service', 'Nothing'), undefined);
});

t.test('as systemd reads it: last wins, an empty assignment empties a list, sections add up', async (t) => {
  const u = parseUnitFile('[Service]\nExecStop=/a\nRestart=no\n[Install]\nWantedBy=x\n[Service]\nExecStop=\nExecStop=/b\nRestart=always\n');
  t.same(u.getAll('Service', 'ExecStop'), ['/b'], 'ExecStop= resets the list');
  t.equal(u.get('Service', 'Restart'), 'always', 'the second [Service] adds to the first');
  t.same(u.entries('Service').map((e) => e.key), ['ExecStop', 'Restart', 'ExecStop', 'ExecStop', 'Restart']);
  t.same(parseUnitFile('[Service]\nExecStop=/a\nExecStop=\n').getAll('Service', 'ExecStop'), []);
  t.equal(parseUnitFile('[S]\nA=x\\\\\nB=y\n').get('S', 'A'), 'x\\\\', 'an escaped backslash does not continue the line');
  t.equal(parseUnitFile('[S]\nA=x \\').get('S', 'A'), 'x', 'a continuation at the end of the file ends there');
  t.equal(parseUnitFile('[S]\r\nA = b \r\n').get('S', 'A'), 'b', 'CRLF line ends');
  t.equal(parseUnitFile('  # indented comment\n[S]\n  ;x=1\n').entries().length, 0, 'comments after leading spaces');
});

t.test('set, add, remove: the rest of the text untouched', async (t) => {
  const text = '# head\n[Unit]\nDescription=x\n\n[Service]\nExecStart=/a \\\n  -b\n# keep me\nExecStop=/s\nExecStop=/t\n\n[Install]\nWantedBy=multi-user.target\n';
  const u = UnitFile.parse(text);
  t.equal(u.toString(), text);
  u.set('Service', 'ExecStop', '/u');
  t.equal(u.toString(), text.replace('ExecStop=/s\nExecStop=/t\n', 'ExecStop=/u\n'), 'set replaces every assignment, where the first was');
  t.same(u.getAll('Service', 'ExecStop'), ['/u']);
  u.add('Service', 'ExecStopPost', '/p');
  t.match(u.toString(), 'ExecStop=/u\nExecStopPost=/p\n\n[Install]');
  t.equal(u.last('Service', 'ExecStopPost')?.line, 10, 'positions follow the edit');
  u.add('X-Extra', 'K', 'v');
  t.match(u.toString(), /WantedBy=multi-user.target\n\n\[X-Extra\]\nK=v\n$/);
  t.ok(u.remove('Unit', 'Description'));
  t.notOk(u.remove('Unit', 'Description'), 'nothing left to remove');
  t.notMatch(u.toString(), 'Description');
  t.match(u.toString(), /^# head\n\[Unit\]\n\n\[Service\]\nExecStart=\/a \\\n  -b\n# keep me\n/, 'continuation and comments kept');
  t.equal(UnitFile.parse('').add('Service', 'Type', 'forking').toString(), '[Service]\nType=forking\n');
  t.throws(() => u.set('Service', 'ExecStart', 'a\nExecStart=b'), /line break/, 'a value cannot add a directive');
  t.throws(() => u.add('Service', 'Bad Key', 'x'), /not a valid key name/);
});

t.test('round trip, byte for byte: every service.template in the compat corpus', async (t) => {
  const files = filesUnder(compat, (f) => f === 'service.template');
  if (!files.length) return unmet(t, `no compat corpus at ${compat} (set SYSCTR_COMPAT_DIR)`);
  t.ok(files.length >= 13, `${files.length} templates`);
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const u = parseUnitFile(text);
    t.equal(u.toString(), text, path.relative(compat, f));
    t.ok(u.has('Service', 'ExecStart'), `${path.relative(compat, f)}: ExecStart= found`);
  }
});

t.test('round trip, byte for byte: every unit and drop-in the host ships', async (t) => {
  const dirs = ['/lib/systemd/system', '/lib/systemd/user', '/usr/lib/systemd/system', '/usr/lib/systemd/user'];
  const seen = new Set<string>();
  const files = dirs.flatMap((d) => filesUnder(d, (f) => /\.(service|socket|timer|target|mount|path|slice|automount|conf)$/.test(f)))
    .filter((f) => {
      const real = fs.realpathSync(f);
      if (seen.has(real)) return false;
      seen.add(real);
      return true;
    });
  const services = files.filter((f) => f.endsWith('.service'));
  t.ok(services.length >= 50, `${services.length} services, ${files.length} files in all (systemd installs well over 50)`);
  let withErrors = 0;
  let entries = 0;
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const u = parseUnitFile(text);
    t.equal(u.toString(), text, f);
    entries += u.entries().length;
    if (u.errors.length) withErrors++;
  }
  t.equal(withErrors, 0, 'systemd\'s own units have no syntax errors');
  t.ok(entries > services.length * 2, `${entries} entries read`);
  const journald = services.find((f) => f.endsWith('/systemd-journald.service'));
  if (journald) t.match(parseUnitFile(fs.readFileSync(journald, 'utf8')).get('Service', 'ExecStart'), /systemd-journald$/);
});
