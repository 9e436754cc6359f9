/** Docker image references: parsing, normalising, printing, and the refusals (unit tests). */
import t from 'tap';
import { DEFAULT_REGISTRY, familiarName, formatReference, normalizeName, parseReference, stripHttpPrefix } from '../../lib/image/reference.js';
import { registryImageName } from '../../lib/image/registry/index.js';
import { SysctrError } from '../../lib/errors.js';

const D = 'sha256:' + 'ab'.repeat(32);

t.test('Docker rules: the first component is a host when it has "." or ":" or is localhost', async (t) => {
  const cases: [string, string, string, string?, string?][] = [
    ['etcd', 'docker.io', 'library/etcd'],
    ['etcd:3.5', 'docker.io', 'library/etcd', '3.5'],
    ['coreos/etcd:v3', 'docker.io', 'coreos/etcd', 'v3'],
    ['docker.io/etcd', 'docker.io', 'library/etcd'],
    ['index.docker.io/library/etcd', 'docker.io', 'library/etcd'],
    ['quay.io/coreos/etcd:v3.5.0', 'quay.io', 'coreos/etcd', 'v3.5.0'],
    ['localhost/app', 'localhost', 'app'],
    ['localhost:5000/app:1', 'localhost:5000', 'app', '1'],
    ['127.0.0.1:5000/a/b/c:x_y-z.1', '127.0.0.1:5000', 'a/b/c', 'x_y-z.1'],
    ['[::1]:5000/app', '[::1]:5000', 'app'],
    ['Registry.Example.COM/app', 'Registry.Example.COM', 'app'],
    ['etcd:Tag_1', 'docker.io', 'library/etcd', 'Tag_1'],
    ['a/b__c/d-e.f', 'docker.io', 'a/b__c/d-e.f'],
    [`etcd@${D}`, 'docker.io', 'library/etcd', undefined, D],
    [`quay.io/etcd:3.5@${D}`, 'quay.io', 'etcd', '3.5', D],
  ];
  for (const [input, registry, repository, tag, digest] of cases) {
    t.same(parseReference(input), { registry, repository, tag, digest }, input);
  }
  t.equal(DEFAULT_REGISTRY, 'docker.io');
});

t.test('malformed references are usage errors naming the reference', async (t) => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['UPPER/case', /"UPPER" has upper-case letters/],
    ['etcd:Tag/x', /bad registry host "etcd:Tag"/],
    ['a//b', /empty path component/],
    ['a/', /empty path component/],
    [':tag', /no repository name/],
    ['etcd:', /bad tag ""/],
    ['etcd:-x', /bad tag/],
    ['etcd@sha256:abc', /64 lowercase hex/],
    ['etcd@', /bad digest/],
    ['foo:bar/baz', /bad registry host "foo:bar"/],
    ['a b', /white space/],
    ['docker://quay.io/etcd', /transport or URL scheme/],
    ['-a/b', /bad path component "-a"/],
    ['a/' + 'x'.repeat(260), /longer than 255/],
  ];
  for (const [input, why] of bad) {
    try {
      parseReference(input);
      t.fail(`${JSON.stringify(input)} was accepted`);
    } catch (err) {
      t.type(err, SysctrError);
      t.equal((err as SysctrError).code, 2, `${JSON.stringify(input)}: exit 2`);
      t.match((err as SysctrError).message, `invalid image reference "${input}"`);
      t.match((err as SysctrError).message, why);
    }
  }
});

t.test('printing: tag default, digest forms, familiar names', async (t) => {
  t.equal(normalizeName('etcd'), 'docker.io/library/etcd:latest');
  t.equal(normalizeName('quay.io/coreos/etcd:v3'), 'quay.io/coreos/etcd:v3');
  t.equal(formatReference(parseReference(`etcd@${D}`)), `docker.io/library/etcd@${D}`);
  t.equal(formatReference(parseReference('etcd'), { defaultTag: false }), 'docker.io/library/etcd');
  t.equal(familiarName('docker.io/library/etcd:3.5'), 'etcd:3.5');
  t.equal(familiarName('docker.io/coreos/etcd:3.5'), 'coreos/etcd:3.5');
  t.equal(familiarName('quay.io/coreos/etcd:3.5'), 'quay.io/coreos/etcd:3.5');
  // what a registry source records: tag form, or name@digest for a digest reference
  t.equal(registryImageName(parseReference('localhost:5000/app')), 'localhost:5000/app:latest');
  t.equal(registryImageName(parseReference(`localhost:5000/app:1@${D}`)), `localhost:5000/app@${D}`);
});

t.test("Atomic's http: prefix means plain HTTP", async (t) => {
  t.same(stripHttpPrefix('http:localhost:5000/etcd'), { reference: 'localhost:5000/etcd', insecureHttp: true });
  t.same(stripHttpPrefix('http://127.0.0.1:5000/etcd:1'), { reference: '127.0.0.1:5000/etcd:1', insecureHttp: true });
  t.same(stripHttpPrefix('http:5000/etcd'), { reference: 'http:5000/etcd', insecureHttp: false }, 'a host named http with a port');
  t.same(stripHttpPrefix('quay.io/etcd'), { reference: 'quay.io/etcd', insecureHttp: false });
});
