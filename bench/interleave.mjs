#!/usr/bin/env node
// Times several commands side by side, interleaved: every round runs each command once, in an
// order that rotates from round to round, each after its PREPARE command (untimed). On a machine
// whose disk speed drifts by tens of percent within a minute, blocks of runs of one command and
// then the other (hyperfine's order) compare different weather; rounds compare like with like.
//
//   node bench/interleave.mjs --runs 7 --prepare 'rm -rf /x' --name a 'cmd a' --name b 'cmd b' [--json FILE]
//
// Prints "name median_seconds" lines (the median of the rounds), and with --json writes every time.
// --cpu adds each command's user+sys CPU seconds (from GNU time): on a machine shared with other
// work, wall time is mostly waiting for a core, CPU time is what the command itself costs.
// In a command, {n} is replaced by the round's number (a new destination every run without a
// deletion before it, e.g. 'cp -al tree out/cp.{n}').
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

const args = process.argv.slice(2);
let runs = 5;
let prepare = '';
let jsonFile = '';
let cpu = false;
const cmds = [];
let nextName = '';
while (args.length) {
  const a = args.shift();
  if (a === '--runs') runs = Number(args.shift());
  else if (a === '--prepare') prepare = args.shift();
  else if (a === '--json') jsonFile = args.shift();
  else if (a === '--cpu') cpu = true;
  else if (a === '--name') nextName = args.shift();
  else {
    cmds.push({ name: nextName || a, cmd: a, times: [], cpu: [] });
    nextName = '';
  }
}
if (!cmds.length || !(runs > 0)) {
  console.error('usage: interleave.mjs [--runs N] [--prepare CMD] [--json FILE] [--cpu] [--name NAME] CMD...');
  process.exit(2);
}

const timeFile = `${os.tmpdir()}/interleave-${process.pid}.time`;
const sh = (cmd, timed = false) =>
  timed && cpu
    ? spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, 'bash', '-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawnSync('bash', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
for (let round = 0; round < runs; round++) {
  for (let k = 0; k < cmds.length; k++) {
    const c = cmds[(round + k) % cmds.length];
    if (prepare && sh(prepare).status !== 0) throw new Error(`prepare failed: ${prepare}`);
    const t = process.hrtime.bigint();
    const r = sh(c.cmd.replaceAll('{n}', String(round)), true);
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (r.status !== 0) {
      console.error(`${c.name} failed (exit ${r.status}): ${c.cmd}\n${r.stderr}`);
      process.exit(1);
    }
    c.times.push(s);
    if (cpu) c.cpu.push(fs.readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-2).reduce((x, y) => x + Number(y), 0));
  }
}
if (cpu) fs.rmSync(timeFile, { force: true });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (xs) => `(${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)})`;
for (const c of cmds) {
  console.log(cpu ? `${c.name} ${median(c.times).toFixed(3)} ${range(c.times)} cpu ${median(c.cpu).toFixed(3)} ${range(c.cpu)}` : `${c.name} ${median(c.times).toFixed(3)}`);
}
if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify({ runs, prepare, results: cmds.map((c) => ({ ...c, median: median(c.times) })) }, null, 2));
