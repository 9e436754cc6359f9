/**
 * run NAME [CMD...]: `runc exec` in the running container, or a one-off `runc run` of the
 * deployment (its config with the process args replaced, in a temp bundle whose root is the
 * deployment's rootfs, read-only) when the service is not running.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SysctrError, usageError } from '../errors.js';
import { resolveRuntime } from '../runtime/check.js';
import { Runc } from '../runtime/runc.js';
import type { DeployContext } from './context.js';
import { validateName } from './names.js';
import { containerPaths, liveDeployment, readInfo } from './state.js';

export async function runInContainer(ctx: DeployContext, rawName: string, cmd: string[]): Promise<number> {
  const name = validateName(rawName);
  const live = liveDeployment(containerPaths(ctx.paths, name));
  const info = live ? readInfo(live) : undefined;
  if (!live || !info) throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  const runc = new Runc(ctx.runner, resolveRuntime(info.runtime), { root: ctx.paths.runcRoot });
  const state = await runc.state(name);
  if (state?.status === 'running') {
    if (cmd.length === 0) throw usageError(`${name} is running: give the command to run in it`, `e.g. sysctr run ${name} sh`);
    return runc.exec(name, cmd);
  }
  // one-off run: its own id, so it never collides with the service's container
  const cfg = JSON.parse(fs.readFileSync(path.join(live, 'config.json'), 'utf8')) as {
    process: { args?: string[]; terminal?: boolean };
    root: { path: string; readonly?: boolean };
  };
  if (cmd.length) cfg.process.args = cmd;
  cfg.process.terminal = false;
  cfg.root = { path: path.resolve(live, cfg.root.path), readonly: true };
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), `sysctr-run-${name}-`));
  try {
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg, null, 2));
    return await runc.run(`${name}-run-${process.pid}`, bundle);
  } finally {
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}
