#!/usr/bin/env node
// The least a checkout written in Node can do: start Node, read the image's merged tree and make
// its directories and hardlinks, nothing else (no lock, no owners, modes or times, no symlinks,
// zero-size files left out). Timed beside `sysctr checkout` and `cp -al`, it shows how much of a
// checkout's time is Node itself and the system calls, and how much is sysctr.
//
//   node bench/checkout-floor.mjs STORE_DIR DEST     (STORE_DIR holds objects/ and trees/)
import fs from 'node:fs';

const [store, dest] = process.argv.slice(2);
const trees = fs.readdirSync(`${store}/trees`).filter((f) => f.endsWith('.json'));
if (trees.length !== 1) throw new Error(`expected one merged tree in ${store}/trees, found ${trees.length}`);
const { rows } = JSON.parse(fs.readFileSync(`${store}/trees/${trees[0]}`, 'utf8'));
const objects = `${store}/objects/`;
fs.mkdirSync(dest);
process.umask(0);
for (const [type, rel, mode, , , , size, ref] of rows) {
  if (type === 'd' && rel) fs.mkdirSync(`${dest}/${rel}`, mode & 0o777);
  else if (type === 'f' && size > 0) fs.linkSync(`${objects}${ref.slice(0, 2)}/${ref.slice(2)}`, `${dest}/${rel}`);
}
