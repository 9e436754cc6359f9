/**
 * For the end-to-end capability tests: images like the example whose config.json.template asks
 * for every capability ([${ALL_PROCESS_CAPABILITIES}] in bounding, effective and permitted, as
 * Atomic images do) or names CAP_SYS_RESOURCE and CAP_SYS_TIME literally; and what a machine's
 * PID 1 and a running container hold, read from their /proc status inside the machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CAPABILITY_NAMES, namesInMask, statusCapMask } from '../../lib/runtime/capabilities.js';
import { projectDir } from './cli.js';
import { type Machine } from './nspawn.js';
import { buildImageWithUmoci } from './images.js';

const EXAMPLE_CAPS = /"capabilities": \{[\s\S]*?\n {4}\},/;
export const LITERAL_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME'];

/** Tags caps-all and caps-lit in the OCI layout `layout`, built in `work`. */
export async function buildCapsImages(work: string, layout: string): Promise<void> {
  const example = path.join(projectDir, 'fixtures/images/example');
  const all = '[${ALL_PROCESS_CAPABILITIES}]';
  const lit = JSON.stringify(LITERAL_CAPS);
  for (const [tag, list] of [['caps-all', all], ['caps-lit', lit]] as const) {
    const src = path.join(work, tag);
    fs.cpSync(example, src, { recursive: true });
    const tmpl = path.join(src, 'exports/config.json.template');
    const text = fs.readFileSync(tmpl, 'utf8');
    if (!EXAMPLE_CAPS.test(text)) throw new Error(`${tmpl}: no capabilities block to replace`);
    fs.writeFileSync(tmpl, text.replace(EXAMPLE_CAPS, `"capabilities": {\n      "bounding": ${list},\n      "effective": ${list},\n      "permitted": ${list}\n    },`));
    await buildImageWithUmoci(src, layout, tag);
  }
}

async function statusOf(m: Machine, pid: string): Promise<string> {
  const r = await m.exec(['cat', `/proc/${pid}/status`]);
  if (r.exitCode !== 0) throw new Error(`/proc/${pid}/status in the machine: ${r.stderr}`);
  return r.stdout;
}

/** The kernel's capabilities (cap_last_cap) missing from the machine's PID 1 bounding set. */
export async function missingFromPid1(m: Machine): Promise<string[]> {
  const last = Number((await m.exec(['cat', '/proc/sys/kernel/cap_last_cap'])).stdout.trim());
  const kernel = CAPABILITY_NAMES.slice(0, last + 1);
  const have = namesInMask(statusCapMask(await statusOf(m, '1'))!, kernel);
  return kernel.filter((c) => !have.includes(c));
}

/** The bounding and effective sets of a running runc container's init. */
export async function containerCaps(m: Machine, name: string): Promise<{ bounding: string[]; effective: string[] }> {
  const st = await m.exec(['runc', 'state', name]);
  if (st.exitCode !== 0) throw new Error(`runc state ${name}: ${st.stderr}`);
  const status = await statusOf(m, String(JSON.parse(st.stdout).pid));
  return { bounding: namesInMask(statusCapMask(status, 'CapBnd')!), effective: namesInMask(statusCapMask(status, 'CapEff')!) };
}

/** The page a service serves, polled until it answers (with `want`, when given); the last answer after ~10 s. */
export async function page(m: Machine, port: number, want?: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 40; i++) {
    const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${port}/`]);
    last = r.exitCode === 0 ? r.stdout.trim() : '';
    if (last && (want === undefined || last === want)) return last;
    await new Promise((res) => setTimeout(res, 250));
  }
  return last;
}
