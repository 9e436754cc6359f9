/**
 * Project Atomic's own system container images (etcd, net-snmp), rebuilt at test time on a Debian
 * 12 rootfs with their /exports files read unchanged from the compat corpus
 * (test/helpers/compat.ts says where it is), by
 * fixtures/atomic/build-image.sh. Each image gets two builds in its own OCI layout: tag 1, and
 * tag 2 = tag 1 plus a layer with /usr/share/sysctr-fixture/build ("build 2").
 */
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from './cli.js';
import { compatDir } from './compat.js';
import { debianRootfs } from './debian-rootfs.js';

export const atomicCorpus = path.join(compatDir, 'atomic-system-containers');

/** The Debian packages standing in for each image's Fedora packages. */
export const ATOMIC_PACKAGES = {
  etcd: ['etcd-server', 'etcd-client'],
  'net-snmp': ['snmpd', 'snmp', 'snmptrapd'],
} as const;

export type AtomicImage = keyof typeof ATOMIC_PACKAGES;

/** Why these images cannot be built here, or undefined. */
export function missingAtomicPrerequisite(): string | undefined {
  if (!fs.existsSync(atomicCorpus)) return `the compat corpus is missing at ${atomicCorpus} (set SYSCTR_COMPAT_DIR)`;
  for (const [prog, pkg] of [
    ['/usr/bin/mmdebstrap', 'mmdebstrap'],
    ['/usr/bin/umoci', 'umoci'],
  ] as const) {
    if (!fs.existsSync(prog)) return `${prog} is missing (apt-get install ${pkg}, or run scripts/setup.sh)`;
  }
  return undefined;
}

/** Builds IMAGE's two builds into LAYOUT (tags 1 and 2); returns the layout. */
export async function buildAtomicImage(image: AtomicImage, layout: string, log: (s: string) => void = () => {}): Promise<string> {
  const rootfs = await debianRootfs([...ATOMIC_PACKAGES[image]], log);
  const script = path.join(projectDir, 'fixtures/atomic/build-image.sh');
  const run = async (args: string[]) => {
    const r = await execa('bash', [script, ...args], { reject: false, all: true });
    if (r.exitCode !== 0) throw new Error(`build-image.sh ${args.join(' ')} failed:\n${String(r.all)}`);
  };
  await run([image, rootfs, path.join(atomicCorpus, image), layout, '1']);
  await run(['--later', '2', layout, '1', '2']);
  return layout;
}
