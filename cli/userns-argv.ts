/**
 * Which command lines of a plain user (not root) run in their user namespace (lib/userns-exec.ts,
 * docs/rootless.md): those in user mode that write or read the store's files or a deployment's tree,
 * which are owned by the user's subordinate ids. Commands that drive runc or only read state
 * (start, stop, run, containers list/info, render, lint, trust) run as the user in the host's
 * namespace, where the user's own runc and user manager are.
 */

/** Command words, and for a group the sub-words, whose work is in the store or a deployment. */
const IN_NAMESPACE: Record<string, string[] | true> = {
  pull: true,
  images: true,
  checkout: true,
  fsck: true,
  install: true,
  uninstall: true,
  backup: true,
  restore: true,
  containers: ['update', 'rollback'],
};

/** Options of sysctr's own that take a value: the word after them is not a command. */
const VALUE_OPTIONS = new Set(['--root', '--signature-policy', '--registries.d', '--registries-conf', '--unit-dir', '--tmpfiles-dir', '--host-root']);

/** argv without node and the script. */
export function runsInUserNamespace(argv: string[]): boolean {
  if (!argv.some((a) => a === '--user' || a === '--user=true')) return false;
  if (argv.some((a) => a === '--help' || a === '-h' || a === '--version')) return false;
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    words.push(a);
  }
  const rule = IN_NAMESPACE[words[0] ?? ''];
  return rule === true || (Array.isArray(rule) && rule.includes(words[1] ?? ''));
}
