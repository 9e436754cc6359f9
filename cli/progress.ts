/**
 * Pull feedback: progress bars per layer on a TTY (bytes, rate, ETA), one line per layer
 * otherwise, nothing with -q.
 */
import type { PullEvent } from '../lib/image/pull.js';
import { humanSize } from './output.js';

export interface Reporter {
  onEvent: (e: PullEvent) => void;
  stop: () => void;
}

const short = (d: string) => d.replace(/^sha256:/, '').replace(/^unverified:/, '').slice(0, 12);

export function progressReporter(opts: { quiet: boolean; tty?: boolean }): Reporter {
  if (opts.quiet) return { onEvent: () => {}, stop: () => {} };
  const tty = opts.tty ?? !!process.stderr.isTTY;
  if (!tty) {
    return {
      onEvent: (e) => {
        if (e.type === 'layer-skip') process.stdout.write(`layer ${short(e.digest)}: already in the store\n`);
        else if (e.type === 'layer-done') process.stdout.write(`layer ${short(e.digest)}: imported (${e.files} entries)\n`);
        else if (e.type === 'retry') process.stderr.write(`retrying ${e.what} (attempt ${e.attempt}: ${e.reason})\n`);
      },
      stop: () => {},
    };
  }
  // Loaded only on a TTY: keeps non-interactive runs lean.
  let multi: import('cli-progress').MultiBar | undefined;
  const bars = new Map<string, import('cli-progress').SingleBar>();
  let cliProgress: typeof import('cli-progress') | undefined;
  const pending: PullEvent[] = [];
  const ready = import('cli-progress').then((m) => {
    cliProgress = (m as unknown as { default: typeof import('cli-progress') }).default ?? m;
    multi = new cliProgress.MultiBar(
      {
        stream: process.stderr,
        format: ' {layer} [{bar}] {percentage}% | {done}/{size} | {speed}/s | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    for (const e of pending.splice(0)) handle(e);
  });
  void ready;
  const started = new Map<string, number>();
  const received = new Map<string, number>();
  function handle(e: PullEvent): void {
    if (!multi) {
      pending.push(e);
      return;
    }
    if (e.type === 'layer-start') {
      started.set(e.digest, Date.now());
      bars.set(e.digest, multi.create(Math.max(e.size, 1), 0, { layer: short(e.digest), done: '0 B', size: humanSize(e.size), speed: '0 B' }));
    } else if (e.type === 'layer-bytes') {
      const b = bars.get(e.digest);
      if (!b) return;
      const v = (received.get(e.digest) ?? 0) + e.bytes;
      received.set(e.digest, v);
      const secs = Math.max(0.001, (Date.now() - (started.get(e.digest) ?? Date.now())) / 1000);
      b.update(v, { done: humanSize(v), speed: humanSize(Math.round(v / secs)) });
    } else if (e.type === 'layer-done') {
      const b = bars.get(e.digest);
      b?.update(b.getTotal());
    } else if (e.type === 'layer-skip') {
      multi.log(` ${short(e.digest)}: already in the store\n`);
    } else if (e.type === 'retry') {
      multi.log(` retrying ${e.what} (attempt ${e.attempt}: ${e.reason})\n`);
    }
  }
  return {
    onEvent: handle,
    stop: () => {
      multi?.stop();
      multi = undefined;
    },
  };
}
