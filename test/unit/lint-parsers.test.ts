/** The small parsers lint relies on: tmpfiles lines, Dockerfiles (units: systemd-unit-file.test.ts). */
import t from 'tap';
import { parseTmpfiles } from '../../lib/lint/tmpfiles-parser.js';
import { argPosition, copyOperands, parseDockerfile } from '../../lib/lint/dockerfile-parser.js';

t.test('tmpfiles: fields with offsets, quotes, the argument is the rest of the line', async (t) => {
  const text = '# c\n\nd /run/x 0755 root root 10d\nL+ "/etc/a b" - - - - /target with spaces\nf /x "0644\n';
  const lines = parseTmpfiles(text);
  t.equal(lines.length, 3);
  t.same(lines[0].fields.map((f) => f.text), ['d', '/run/x', '0755', 'root', 'root', '10d']);
  t.equal(text.slice(lines[0].fields[2].offset, lines[0].fields[2].offset + 4), '0755');
  t.same(lines[1].fields.map((f) => f.text), ['L+', '/etc/a b', '-', '-', '-', '-', '/target with spaces']);
  t.equal(lines[1].line, 4);
  t.match(lines[2].error, /unterminated/);
});

t.test('Dockerfile: continuations, comments inside them, stages, positions', async (t) => {
  const text = [
    'FROM a:1 AS build',
    'RUN make \\',
    '# comment in the middle',
    '    && make install',
    '',
    'FROM b:2',
    'COPY --chown=0:0 x y /exports/',
    'COPY ["a b", "/exports/"]',
  ].join('\n');
  const ins = parseDockerfile(text);
  t.same(ins.map((i) => [i.keyword, i.line, i.stage]), [['FROM', 1, 0], ['RUN', 2, 0], ['FROM', 6, 1], ['COPY', 7, 1], ['COPY', 8, 1]]);
  const run = ins[1];
  t.equal(run.args, 'make     && make install');
  t.same(argPosition(run, run.args.indexOf('&&')), { line: 4, col: 5 });
  const c = copyOperands(ins[3]);
  t.same(c.sources.map((s) => s.text), ['x', 'y']);
  t.equal(c.dest?.text, '/exports/');
  t.same(copyOperands(ins[4]).sources.map((s) => s.text), ['a b']);
  const hd = parseDockerfile('FROM x:1\nRUN <<EOF\nset -e\n  dnf install -y foo\nEOF\nCMD ["a"]\n');
  t.same(hd.map((i) => [i.keyword, i.line]), [['FROM', 1], ['RUN', 2], ['CMD', 6]], 'a heredoc belongs to its RUN');
  t.same(argPosition(hd[1], hd[1].args.indexOf('dnf')), { line: 4, col: 3 });
  const bt = parseDockerfile('# escape=`\nRUN a `\n  b\n');
  t.equal(bt[0].args, 'a   b', 'a backtick escape');
});
