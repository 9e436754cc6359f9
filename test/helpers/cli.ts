/** Runs the built sysctr CLI (dist/) as a user would. */
import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sysctrBin = path.join(projectDir, 'dist/cli/main.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function sysctr(args: string[], opts: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [sysctrBin, ...args], {
    reject: false,
    env: opts.env,
    input: opts.input,
    cwd: opts.cwd,
  });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
