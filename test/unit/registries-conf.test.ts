/** containers-registries.conf(5) v2: parsing, prefix matching, mirror order, refusals (unit tests). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { endpointsFor, findRegistry, parseRegistriesConf, qualifyShortName, readRegistriesConf, type RegistriesConf } from '../../lib/image/registries-conf.js';
import { parseReference } from '../../lib/image/reference.js';
import { SysctrError } from '../../lib/errors.js';
import { resolvePaths } from '../../lib/paths.js';

const D = 'sha256:' + 'cd'.repeat(32);
const conf = (text: string): RegistriesConf => ({ ...parseRegistriesConf(text, '/etc/containers/registries.conf'), files: [] });
const names = (c: RegistriesConf, ref: string) =>
  endpointsFor(c, parseReference(ref)).map((e) => `${e.mirror ? 'mirror' : 'primary'} ${e.ref.registry}/${e.ref.repository}${e.insecure ? ' insecure' : ''}`);

t.test('a [[registry]] with mirrors: mirrors in order, then the primary', async (t) => {
  const c = conf(`
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror1.example:5000/hub"
insecure = true
[[registry.mirror]]
location = "mirror2.example"
`);
  t.same(names(c, 'etcd:3.5'), ['mirror mirror1.example:5000/hub/library/etcd insecure', 'mirror mirror2.example/library/etcd', 'primary docker.io/library/etcd']);
  const e = endpointsFor(c, parseReference('etcd:3.5'));
  t.equal(e[0].ref.tag, '3.5', 'the tag travels to the mirror');
  t.same(names(c, 'quay.io/x/y'), ['primary quay.io/x/y'], 'another registry is not touched');
  t.equal(findRegistry(c, parseReference('quay.io/x/y')), undefined);
});

t.test('the longest matching prefix wins, on whole path components', async (t) => {
  const c = conf(`
[[registry]]
prefix = "example.com"
location = "a.example"
[[registry]]
prefix = "example.com/team/app"
location = "b.example/other"
[[registry]]
prefix = "example.com/team"
location = "c.example"
`);
  t.same(names(c, 'example.com/team/app:1'), ['primary b.example/other']);
  t.same(names(c, 'example.com/team/app/sub'), ['primary b.example/other/sub']);
  t.same(names(c, 'example.com/team/application'), ['primary c.example/application'], '"team/app" does not match "team/application"');
  t.same(names(c, 'example.com/solo'), ['primary a.example/solo']);
});

t.test('a wildcard prefix matches subdomains only, the location is the reference’s own', async (t) => {
  const c = conf(`
[[registry]]
prefix = "*.example.com"
blocked = true
`);
  t.throws(() => names(c, 'eu.example.com/app'), /blocked/);
  t.same(names(c, 'example.com/app'), ['primary example.com/app']);
});

t.test('pull-from-mirror: digest-only and tag-only', async (t) => {
  const c = conf(`
[[registry]]
location = "up.example"
[[registry.mirror]]
location = "digests.example"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tags.example"
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "any.example"
`);
  t.same(names(c, 'up.example/app:1'), ['mirror tags.example/app', 'mirror any.example/app', 'primary up.example/app']);
  t.same(names(c, `up.example/app@${D}`), ['mirror digests.example/app', 'mirror any.example/app', 'primary up.example/app']);
  const old = conf('[[registry]]\nlocation = "up.example"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example"\n');
  t.same(names(old, 'up.example/app:1'), ['primary up.example/app'], 'mirror-by-digest-only is the default for its mirrors');
});

t.test('blocked is refused naming the file and the entry', async (t) => {
  const c = conf('[[registry]]\nprefix = "bad.example"\nblocked = true\n');
  const err = t.throws(() => names(c, 'bad.example/app:1')) as SysctrError;
  t.ok(err instanceof SysctrError);
  t.match(err.message, /bad\.example\/app: pulling from this registry is blocked \(\/etc\/containers\/registries\.conf: registry\[0\]/);
});

t.test('strict: unknown keys and bad values are refused with file and key', async (t) => {
  const f = '/etc/containers/registries.conf';
  const cases: [string, RegExp][] = [
    ['mirrors = 1', /registries\.conf: mirrors: unknown key/],
    ['[[registry]]\nlocation = "a.example"\nmirorr = []', /registry\[0\]\.mirorr: unknown key/],
    ['[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "sometimes"', /registry\[0\]\.mirror\[0\]\.pull-from-mirror: "sometimes": write one of all, digest-only, tag-only/],
    ['[[registry]]\nlocation = "a.example"\ninsecure = "yes"', /registry\[0\]\.insecure: must be true or false/],
    ['[[registry]]\nlocation = "https://a.example"', /registry\[0\]\.location: "https:\/\/a\.example" has a URL scheme/],
    ['[[registry]]\nblocked = true', /registry\[0\]: needs a prefix or a location/],
    ['[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\ninsecure = true', /registry\[0\]\.mirror\[0\]\.location: missing/],
    ['unqualified-search-registries = "docker.io"', /unqualified-search-registries: must be a list/],
    ['[registries.search]\nregistries = ["docker.io"]', /registries: the version 1 format/],
    ['[[registry]\nlocation = 1', /not valid TOML/],
  ];
  for (const [text, re] of cases) {
    const err = t.throws(() => parseRegistriesConf(text, f), re.source) as Error;
    t.ok(err.message.startsWith(`${f}: `), `names the file: ${err.message}`);
    t.match(err.message, re);
  }
  t.doesNotThrow(() => parseRegistriesConf('short-name-mode = "enforcing"\n[aliases]\n"skopeo" = "quay.io/skopeo/stable"\n', f), "keys podman's own files use are accepted");
});

t.test('unqualified-search-registries: one qualifies a short name, several are refused listing them', async (t) => {
  t.equal(qualifyShortName('etcd:3.5', conf('unqualified-search-registries = ["quay.io"]')), 'quay.io/etcd:3.5');
  t.equal(qualifyShortName('coreos/etcd', conf('unqualified-search-registries = ["quay.io"]')), 'quay.io/coreos/etcd');
  t.equal(qualifyShortName('localhost:5000/app', conf('unqualified-search-registries = ["quay.io"]')), 'localhost:5000/app', 'a qualified name stays');
  t.equal(qualifyShortName('etcd', conf('')), 'etcd', 'no list: docker.io as before');
  t.throws(() => qualifyShortName('etcd', conf('unqualified-search-registries = ["quay.io", "docker.io"]')), /"etcd" is a short name and registries\.conf lists several unqualified-search-registries: quay\.io, docker\.io/);
});

t.test('drop-ins are read after the file, by name; a same prefix replaces; an explicit file is read alone', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-regconf-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const main = path.join(dir, 'registries.conf');
  fs.writeFileSync(main, 'unqualified-search-registries = ["a.example", "b.example"]\n[[registry]]\nprefix = "x.example"\nlocation = "one.example"\n');
  fs.mkdirSync(path.join(dir, 'registries.conf.d'));
  fs.writeFileSync(path.join(dir, 'registries.conf.d/20-late.conf'), '[[registry]]\nprefix = "x.example"\nlocation = "three.example"\n');
  fs.writeFileSync(path.join(dir, 'registries.conf.d/10-early.conf'), 'unqualified-search-registries = ["c.example"]\n[[registry]]\nprefix = "x.example"\nlocation = "two.example"\n');
  fs.writeFileSync(path.join(dir, 'registries.conf.d/ignored.txt'), 'not = toml = at all');
  const c = readRegistriesConf(main);
  t.same(c.files.map((f) => path.basename(f)), ['registries.conf', '10-early.conf', '20-late.conf']);
  t.same(c.unqualifiedSearch, ['c.example']);
  t.same(names(c, 'x.example/app'), ['primary three.example/app']);
  const alone = readRegistriesConf(main, { explicit: true });
  t.same(names(alone, 'x.example/app'), ['primary one.example/app']);
  t.throws(() => readRegistriesConf(path.join(dir, 'nope.conf'), { explicit: true }), /nope\.conf: no such registries\.conf file/);
  t.same(readRegistriesConf(path.join(dir, 'nope.conf')).files.length, 2, 'a missing default file: the drop-ins still count');
  fs.writeFileSync(path.join(dir, 'registries.conf.d/30-bad.conf'), '[[registry]]\nlocation = "y.example"\nblokced = true\n');
  t.throws(() => readRegistriesConf(main), /30-bad\.conf: registry\[0\]\.blokced: unknown key/);
});

t.test('which file: the user’s own in user mode when it exists, else the system’s; --registries-conf wins', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-regconf-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'cfg') };
  t.same(resolvePaths({ user: true }, env).registriesConf, { file: '/etc/containers/registries.conf', explicit: false });
  fs.mkdirSync(path.join(dir, 'cfg/containers'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'cfg/containers/registries.conf'), '');
  t.same(resolvePaths({ user: true }, env).registriesConf, { file: path.join(dir, 'cfg/containers/registries.conf'), explicit: false });
  t.same(resolvePaths({}, env).registriesConf, { file: '/etc/containers/registries.conf', explicit: false }, 'system mode: the system file');
  t.same(resolvePaths({ registriesConf: 'my.conf' }, env).registriesConf, { file: path.resolve('my.conf'), explicit: true });
});
