#!/usr/bin/env node
// Times several commands side by side, interleaved: every round runs each command once, in an
// order that rotates from round to round, each after its PREPARE command (untimed). On a machine
// whose disk speed drifts by tens of percent within a minute, blocks of runs of one command and
// then the other (hyperfine's order) compare different weather; rounds compare like with like.
//
//   node bench/interleave.mjs --runs 7 --prepare 'rm -rf /x' --name a 'cmd a' --name b 'cmd b' [--json FILE]
//
// Prints "name median_seconds" lines (the median of the rounds), and with --json writes every time.
// In a command, {n} is replaced by the round's number (a new destination every run without a
// deletion before it, e.g. 'cp -al tree out/cp.{n}').
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const args = process.argv.slice(2);
let runs = 5;
let prepare = '';
let jsonFile = '';
const cmds = [];
let nextName = '';
while (args.length) {
  const a = args.shift();
  if (a === '--runs') runs = Number(args.shift());
  else if (a === '--prepare') prepare = args.shift();
  else if (a === '--json') jsonFile = args.shift();
  else if (a === '--name') nextName = args.shift();
  else {
    cmds.push({ name: nextName || a, cmd: a, times: [] });
    nextName = '';
  }
}
if (!cmds.length || !(runs > 0)) {
  console.error('usage: interleave.mjs [--runs N] [--prepare CMD] [--json FILE] [--name NAME] CMD...');
  process.exit(2);
}

const sh = (cmd) => spawnSync('bash', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
for (let round = 0; round < runs; round++) {
  for (let k = 0; k < cmds.length; k++) {
    const c = cmds[(round + k) % cmds.length];
    if (prepare && sh(prepare).status !== 0) throw new Error(`prepare failed: ${prepare}`);
    const t = process.hrtime.bigint();
    const r = sh(c.cmd.replaceAll('{n}', String(round)));
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (r.status !== 0) {
      console.error(`${c.name} failed (exit ${r.status}): ${c.cmd}\n${r.stderr}`);
      process.exit(1);
    }
    c.times.push(s);
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const c of cmds) console.log(`${c.name} ${median(c.times).toFixed(3)}`);
if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify({ runs, prepare, results: cmds.map((c) => ({ ...c, median: median(c.times) })) }, null, 2));
