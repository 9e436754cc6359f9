/** Dockerfile practices for a system container image. */
import { argPosition, copyOperands, parseDockerfile, words, type DockerInstruction } from './dockerfile-parser.js';
import { finding, type LintContext } from './context.js';
import type { RawFinding } from './types.js';

const FILE = 'Dockerfile';

export function checkDockerfile(ctx: LintContext): RawFinding[] {
  if (ctx.dockerfile === undefined) return [];
  const ins = parseDockerfile(ctx.dockerfile);
  const out: RawFinding[] = [];
  const at = (i: DockerInstruction, index: number, rule: string, message: string) => {
    const p = argPosition(i, index);
    out.push(finding(FILE, p.line, p.col, rule, message));
  };
  const stageNames = new Set<string>();
  const copied = new Set<string>();
  let systemLabel = false;
  let exportsCopy: DockerInstruction | undefined;
  const inImage = finalImageStages(ins);

  for (const i of ins) {
    if (i.keyword === 'MAINTAINER') out.push(finding(FILE, i.line, i.col, 'dockerfile-maintainer', 'MAINTAINER is deprecated: use LABEL maintainer="..."'));
    if (i.keyword === 'FROM') checkFrom(i, stageNames, at);
    if (i.keyword === 'LABEL' && inImage.has(i.stage) && hasSystemLabel(i.args)) systemLabel = true;
    // only what lands in the final image counts (a builder stage's COPY does not)
    if ((i.keyword === 'COPY' || i.keyword === 'ADD') && inImage.has(i.stage)) {
      const { sources, dest } = copyOperands(i);
      if (!dest) continue;
      const d = dest.text.replace(/^["']|["']$/g, '');
      if (d === '/export' || d.startsWith('/export/')) at(i, dest.index, 'dockerfile-export-dir', `"${d}": sysctr reads /exports (with an s)`);
      if (d === '/exports' || d.startsWith('/exports/')) {
        exportsCopy ??= i;
        // a directory (exports/, or /exports of another stage) may go to /exports; files may not
        const known = (x: { text: string }) => ctx.texts.has(x.text.replace(/^["']|["']$/g, '').split('/').pop()!);
        if (d === '/exports' && (sources.length > 1 || sources.every(known))) {
          at(i, dest.index, 'dockerfile-exports-trailing-slash', sources.length > 1
            ? '"/exports" without a trailing "/": the build fails when several files are copied; write /exports/'
            : '"/exports" without a trailing "/": the file is copied AS /exports, not into it; write /exports/');
        }
        const renamedTo = d === '/exports' || d.endsWith('/') ? undefined : d.slice('/exports/'.length);
        if (renamedTo) copied.add(renamedTo);
        for (const s of sources) {
          const src = s.text.replace(/^["']|["']$/g, '').replace(/\/+$/, '');
          // COPY . /exports/, COPY exports/ /exports/, COPY exports/* /exports/, COPY --from=b /exports /exports
          const base = src.split('/').pop()!;
          if (['', '.', 'exports', '*'].includes(base)) for (const f of ctx.texts.keys()) copied.add(f);
          copied.add(base);
        }
        if (i.keyword === 'ADD') out.push(finding(FILE, i.line, i.col, 'dockerfile-add-exports', 'ADD to /exports: use COPY (ADD also fetches URLs and unpacks archives)'));
      }
    }
    if (i.keyword === 'RUN') checkRun(i, at);
  }
  // what is missing from the image is reported at the FROM of its final stage
  const finalFrom = [...ins].reverse().find((x) => x.keyword === 'FROM') ?? ins[0];
  if (!systemLabel) {
    out.push(finding(FILE, finalFrom?.line ?? 1, finalFrom?.col ?? 1, 'dockerfile-label-system', 'no LABEL atomic.type=system: add LABEL atomic.type="system"'));
  }
  for (const f of ctx.texts.keys()) {
    if (!copied.has(f)) {
      const where = exportsCopy ?? finalFrom ?? { line: 1, col: 1 };
      out.push(finding(FILE, where.line, where.col, 'dockerfile-exports-not-copied', `${f} is not copied to /exports: add COPY ${f} /exports/`));
    }
  }
  return out;
}

/** The stages the final image is made of: the last one and the stages it is built FROM, by name. */
function finalImageStages(ins: DockerInstruction[]): Set<number> {
  const froms = ins.filter((i) => i.keyword === 'FROM').map((i) => {
    const ws = words(i.args).filter((w) => !w.text.startsWith('--'));
    const as = ws.findIndex((w) => w.text.toLowerCase() === 'as');
    return { stage: i.stage, image: (ws[0]?.text ?? '').toLowerCase(), alias: as > 0 ? ws[as + 1]?.text.toLowerCase() : undefined };
  });
  const chain = new Set<number>();
  let cur: (typeof froms)[number] | undefined = froms[froms.length - 1];
  while (cur && !chain.has(cur.stage)) {
    chain.add(cur.stage);
    const image: string = cur.image;
    cur = froms.find((f) => f.alias === image || String(f.stage) === image);
  }
  if (chain.size === 0) chain.add(0);
  return chain;
}

function hasSystemLabel(args: string): boolean {
  // LABEL k=v k2="v 2" ... or the old form LABEL key value
  for (const w of words(args)) {
    const m = /^["']?atomic\.type["']?=(.*)$/.exec(w.text);
    if (m && m[1].replace(/^["']|["']$/g, '') === 'system') return true;
  }
  return /^atomic\.type\s+["']?system["']?\s*$/.test(args.trim());
}

type At = (i: DockerInstruction, index: number, rule: string, message: string) => void;

function checkFrom(i: DockerInstruction, stageNames: Set<string>, at: At): void {
  const ws = words(i.args).filter((w) => !w.text.startsWith('--'));
  const image = ws[0];
  if (!image) return;
  const as = ws.findIndex((w) => w.text.toLowerCase() === 'as');
  if (as > 0 && ws[as + 1]) stageNames.add(ws[as + 1].text.toLowerCase());
  const ref = image.text;
  if (ref === 'scratch' || stageNames.has(ref.toLowerCase()) || ref.includes('$')) return;
  if (ref.includes('@')) return;
  const lastPart = ref.split('/').pop()!;
  const tag = lastPart.includes(':') ? lastPart.slice(lastPart.indexOf(':') + 1) : undefined;
  if (tag === undefined) at(i, image.index, 'dockerfile-unpinned-base', `base image "${ref}" has no tag: pin a version (${ref}:VERSION or @sha256:...)`);
  else if (tag === 'latest') at(i, image.index, 'dockerfile-unpinned-base', `base image "${ref}" uses the tag latest: pin a version`);
}

/** Package installs: docs kept, caches not cleaned in the same RUN. */
function checkRun(i: DockerInstruction, at: At): void {
  const a = i.args;
  const install = /\b(dnf|yum|microdnf|tdnf)\b[^;&|]*?\binstall\b/g;
  let m: RegExpExecArray | null;
  let rpmInstall: { index: number; tool: string } | undefined;
  while ((m = install.exec(a))) {
    const cmdEnd = a.slice(m.index).search(/&&|;|\|\||\n/);
    const cmd = cmdEnd < 0 ? a.slice(m.index) : a.slice(m.index, m.index + cmdEnd);
    if (!/tsflags=nodocs|--nodocs/.test(cmd)) at(i, m.index, 'dockerfile-nodocs', `${m[1]} install keeps documentation: add --setopt=tsflags=nodocs`);
    rpmInstall ??= { index: m.index, tool: m[1] };
  }
  if (rpmInstall && !/\b(dnf|yum|microdnf|tdnf)\b\s+(?:-\S+\s+)*clean\s+all\b|rm\s+-r?f\S*\s+\/var\/cache\/(dnf|yum)/.test(a)) {
    at(i, rpmInstall.index, 'dockerfile-cache-clean', `${rpmInstall.tool} install without "${rpmInstall.tool} clean all" in the same RUN: the cache stays in the layer`);
  }
  const apt = /\bapt(?:-get)?\s+(?:-\S+\s+)*install\b/.exec(a);
  if (apt && !/rm\s+-r?f\S*\s+\/var\/lib\/apt\/lists/.test(a)) {
    at(i, apt.index, 'dockerfile-cache-clean', 'apt-get install without "rm -rf /var/lib/apt/lists/*" in the same RUN');
  }
  const apk = /\bapk\s+add\b/.exec(a);
  if (apk && !/--no-cache/.test(a) && !/rm\s+-r?f\S*\s+\/var\/cache\/apk/.test(a)) {
    at(i, apk.index, 'dockerfile-cache-clean', 'apk add without --no-cache');
  }
}
