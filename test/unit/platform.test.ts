/** Platforms: host mapping, --platform parsing, and choosing from an index (unit tests). */
import t from 'tap';
import { compatiblePlatforms, formatPlatform, hostPlatform, normalizePlatform, parsePlatform, selectManifest } from '../../lib/image/platform.js';
import { SysctrError } from '../../lib/errors.js';
import type { Descriptor, Platform } from '../../lib/image/types.js';

const desc = (name: string, platform?: Platform): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${name.padEnd(64, '0')}`,
  size: 1,
  platform,
});
const p = (s: string): Platform => parsePlatform(s);

t.test('uname -m to GOARCH', async (t) => {
  const cases: [string, string][] = [
    ['x86_64', 'linux/amd64'],
    ['aarch64', 'linux/arm64/v8'],
    ['arm64', 'linux/arm64/v8'],
    ['armv7l', 'linux/arm/v7'],
    ['armv6l', 'linux/arm/v6'],
    ['armv5tel', 'linux/arm/v5'],
    ['armv5tejl', 'linux/arm/v5'],
    ['i686', 'linux/386'],
    ['i386', 'linux/386'],
    ['ppc64le', 'linux/ppc64le'],
    ['s390x', 'linux/s390x'],
    ['riscv64', 'linux/riscv64'],
  ];
  for (const [machine, want] of cases) t.equal(formatPlatform(hostPlatform(machine)), want, machine);
  t.ok(hostPlatform().architecture, 'this host maps to something');
});

t.test('parsePlatform: os/arch[/variant], else a usage error', async (t) => {
  t.same(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  t.same(parsePlatform('Linux/AMD64'), { os: 'linux', architecture: 'amd64' });
  for (const bad of ['', 'linux', 'amd64', 'linux/', '/amd64', 'linux/arm/v7/x', 'linux/a m d']) {
    try {
      parsePlatform(bad);
      t.fail(`"${bad}" accepted`);
    } catch (err) {
      t.type(err, SysctrError);
      t.equal((err as SysctrError).code, 2);
      t.match((err as SysctrError).message, `invalid platform "${bad}"`);
    }
  }
});

t.test("containerd's normalisation", async (t) => {
  t.same(normalizePlatform(p('linux/arm64/v8')), { os: 'linux', architecture: 'arm64' });
  t.same(normalizePlatform(p('linux/aarch64')), { os: 'linux', architecture: 'arm64' });
  t.same(normalizePlatform(p('linux/arm')), { os: 'linux', architecture: 'arm', variant: 'v7' });
  t.same(normalizePlatform(p('linux/arm/6')), { os: 'linux', architecture: 'arm', variant: 'v6' });
  t.same(normalizePlatform(p('linux/armhf')), { os: 'linux', architecture: 'arm', variant: 'v7' });
  t.same(normalizePlatform(p('linux/armel')), { os: 'linux', architecture: 'arm', variant: 'v6' });
  t.same(normalizePlatform(p('linux/x86_64')), { os: 'linux', architecture: 'amd64' });
  t.same(normalizePlatform(p('linux/i386')), { os: 'linux', architecture: '386' });
  t.same(compatiblePlatforms(p('linux/arm/v7')).map(formatPlatform), ['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
  t.same(compatiblePlatforms(p('linux/amd64')).map(formatPlatform), ['linux/amd64', 'linux/386']);
});

// the multi-arch practice image: one tag, arm32v5/6/7, arm64v8, amd64 (plus an attestation entry)
const practice = [
  desc('a', { os: 'linux', architecture: 'amd64' }),
  desc('b', { os: 'linux', architecture: 'arm', variant: 'v5' }),
  desc('c', { os: 'linux', architecture: 'arm', variant: 'v6' }),
  desc('d', { os: 'linux', architecture: 'arm', variant: 'v7' }),
  desc('e', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
  desc('f', { os: 'unknown', architecture: 'unknown' }),
];

t.test('selectManifest: each platform of the practice image, exactly', async (t) => {
  const pick = (s: string, compatible = false) => selectManifest(practice, p(s), { compatible }).digest[7];
  t.equal(pick('linux/amd64'), 'a');
  t.equal(pick('linux/arm/v5'), 'b');
  t.equal(pick('linux/arm/v6'), 'c');
  t.equal(pick('linux/arm/v7'), 'd');
  t.equal(pick('linux/arm'), 'd', 'plain arm means arm/v7');
  t.equal(pick('linux/arm64'), 'e', 'arm64 means arm64/v8');
  t.equal(pick('linux/arm64/v8'), 'e');
  t.equal(pick('linux/aarch64'), 'e');
  // an index entry for arm64 without a variant matches arm64/v8 too
  t.equal(selectManifest([desc('g', { os: 'linux', architecture: 'arm64' })], p('linux/arm64/v8')).digest[7], 'g');
});

t.test('selectManifest: strict for --platform, compatible for the host default', async (t) => {
  const noV7 = practice.filter((d) => d.platform?.variant !== 'v7');
  t.throws(() => selectManifest(noV7, p('linux/arm/v7')), /no image for platform linux\/arm\/v7/);
  t.equal(selectManifest(noV7, p('linux/arm/v7'), { compatible: true }).digest[7], 'c', 'a v7 host runs v6');
  t.equal(selectManifest([desc('h', { os: 'linux', architecture: '386' })], p('linux/amd64'), { compatible: true }).digest[7], 'h');
  t.throws(() => selectManifest(practice, p('linux/arm/v8')), /no image/, 'arm/v8 is not arm64');
});

t.test('selectManifest: a miss lists every platform offered', async (t) => {
  try {
    selectManifest(practice, p('linux/s390x'), { image: 'docker.io/library/practice:latest' });
    t.fail('no error');
  } catch (err) {
    t.type(err, SysctrError);
    t.equal(
      (err as SysctrError).message,
      'no image for platform linux/s390x in docker.io/library/practice:latest; the index offers: linux/amd64, linux/arm/v5, linux/arm/v6, linux/arm/v7, linux/arm64/v8',
    );
    t.match((err as SysctrError).hint, '--platform linux/amd64');
  }
  t.equal(selectManifest([desc('x')], p('linux/amd64')).digest[7], 'x', 'an entry without a platform is taken, as containerd does');
  t.throws(() => selectManifest([desc('f', { os: 'unknown', architecture: 'unknown' })], p('linux/amd64')), /offers: no platforms at all/);
  t.throws(() => selectManifest(practice, p('windows/amd64')), /no image for platform windows\/amd64/);
});
