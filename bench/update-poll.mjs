// bench/update-poll.mjs URL OLD NEW READY_FILE: GETs URL every 10 ms (a new connection each time)
// until it has seen an answer containing OLD and then one containing NEW; prints the downtime in
// ms: from the last answer with OLD to the first with NEW. Creates READY_FILE at the first answer
// with OLD (the caller starts the update then). Gives up after 60 s.
import fs from 'node:fs';
import http from 'node:http';
const [url, oldText, newText, readyFile] = process.argv.slice(2);
let lastOld = 0;
const started = Date.now();
const get = () =>
  new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 500 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d)).on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
for (;;) {
  const sent = performance.now();
  const body = await get();
  const now = performance.now();
  if (body.includes(oldText)) {
    if (!lastOld && readyFile) fs.writeFileSync(readyFile, '');
    lastOld = now;
  }
  else if (lastOld && body.includes(newText)) {
    process.stdout.write(`${(now - lastOld).toFixed(0)}\n`);
    process.exit(0);
  }
  if (Date.now() - started > 60_000) {
    process.stderr.write(`update-poll: no answer with "${newText}" within 60 s\n`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, Math.max(0, 10 - (performance.now() - sent))));
}
