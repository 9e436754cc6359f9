/**
 * The public keys a requirement names (keyPath, keyPaths or keyData), read as bytes. OpenPGP
 * keys may be ASCII-armored; gpgv wants the binary packets, so armor is removed here (base64
 * between the armor lines; the packets themselves are left to gpgv).
 */
import fs from 'node:fs';
import { SysctrError } from '../errors.js';
import type { KeySource } from './policy.js';

export interface LoadedKey {
  /** where it came from, for messages: the file, or "keyData" */
  origin: string;
  bytes: Buffer;
}

export function loadKeys(k: KeySource, scope: string): LoadedKey[] {
  if (k.keyData !== undefined) return [{ origin: 'keyData', bytes: Buffer.from(k.keyData, 'base64') }];
  const files = k.keyPath !== undefined ? [k.keyPath] : (k.keyPaths ?? []);
  return files.map((f) => {
    try {
      return { origin: f, bytes: fs.readFileSync(f) };
    } catch (err) {
      throw new SysctrError(`${scope}: cannot read the public key ${f}: ${(err as Error).message}`, { hint: 'fix the key path in the signature policy' });
    }
  });
}

/** Binary OpenPGP packets from armored or binary key data (several armored blocks concatenated). */
export function dearmorPgp(data: Buffer): Buffer {
  const text = data.toString('latin1');
  if (!text.includes('-----BEGIN PGP')) return data;
  const blocks = [...text.matchAll(/-----BEGIN PGP [A-Z ]+-----\r?\n([\s\S]*?)-----END PGP [A-Z ]+-----/g)];
  return Buffer.concat(
    blocks.map((m) => {
      const lines = m[1].split(/\r?\n/);
      // armor headers end at the first empty line (there may be none)
      const blank = lines.findIndex((l) => l.trim() === '');
      const body = (blank >= 0 && lines.slice(0, blank).every((l) => /^[\w-]+: /.test(l)) ? lines.slice(blank + 1) : lines).filter((l) => !l.startsWith('='));
      return Buffer.from(body.join(''), 'base64');
    }),
  );
}
