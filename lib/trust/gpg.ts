/**
 * GPG simple-signing verification with gpgv (GnuPG's verify-only tool): the signature is an
 * OpenPGP signed message whose content is the JSON payload. gpgv runs with a home directory of
 * its own and a keyring of exactly the policy's keys, so only those keys can make it succeed; its
 * status lines say which key signed.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { dearmorPgp, type LoadedKey } from './keys.js';

export interface GpgResult {
  /** the content of the signed message (the payload, not yet parsed) */
  payload: Buffer;
  /** fingerprint of the primary key that made the signature */
  fingerprint: string;
}

/** A signature gpgv did not accept: the reason in gpgv's own words. */
export class SignatureRejected extends Error {}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('gpgv', args, { encoding: 'utf8', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new SysctrError('gpgv is not installed: GPG signatures cannot be verified', { hint: 'install it: apt-get install gpgv' }));
        return;
      }
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function verifyGpgSignature(signature: Buffer, keys: LoadedKey[]): Promise<GpgResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-gpgv-'));
  try {
    fs.chmodSync(dir, 0o700);
    const keyring = path.join(dir, 'trusted.gpg');
    fs.writeFileSync(keyring, Buffer.concat(keys.map((k) => dearmorPgp(k.bytes))));
    fs.writeFileSync(path.join(dir, 'signature'), signature);
    const out = path.join(dir, 'payload');
    const r = await run(['--homedir', dir, '--status-fd', '1', '--keyring', keyring, '--output', out, path.join(dir, 'signature')]);
    const status = r.stdout.split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice(9).split(' '));
    const valid = status.find((s) => s[0] === 'VALIDSIG');
    const bad = status.find((s) => ['BADSIG', 'ERRSIG', 'EXPKEYSIG', 'REVKEYSIG', 'EXPSIG', 'NO_PUBKEY'].includes(s[0]));
    if (r.code !== 0 || !valid || bad || !status.some((s) => s[0] === 'GOODSIG')) {
      const why = bad?.[0] === 'NO_PUBKEY' || bad?.[0] === 'ERRSIG'
        ? `signed by key ${bad[1]}, which is not among the trusted keys (${keys.map((k) => k.origin).join(', ')})`
        : bad?.[0] === 'BADSIG'
          ? 'the signature does not match its content (BADSIG)'
          : bad
            ? `gpgv: ${bad[0]}`
            : `gpgv could not verify it: ${r.stderr.trim().split('\n').pop() ?? `exit status ${r.code}`}`;
      throw new SignatureRejected(why);
    }
    // VALIDSIG <signing key fpr> <date> ... <primary key fpr> (the 10th field)
    return { payload: fs.readFileSync(out), fingerprint: valid[10] ?? valid[1] };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
