/**
 * Which command lines of a plain user (not root) run in their user namespace (lib/userns-exec.ts,
 * docs/rootless.md): those on a store of the user's own (`--user`, or `--root DIR` / SYSCTR_ROOT)
 * that write or read the store's files or a deployment's tree, which are owned by the user's
 * subordinate ids. Commands that drive runc or only read state
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

/**
 * argv without node and the script. 'required' for --user (a user with no subordinate ids is told
 * so), 'if-mapped' for a store named with --root or SYSCTR_ROOT (a user with none runs the command as
 * before, as themselves: a store of only their own files works so), undefined otherwise.
 */
export function userNamespaceNeed(argv: string[], env: NodeJS.ProcessEnv = process.env): 'required' | 'if-mapped' | undefined {
  const user = argv.some((a) => a === '--user' || a === '--user=true');
  if (!user && !argv.some((a) => a === '--root' || a.startsWith('--root=')) && !env.SYSCTR_ROOT) return undefined;
  if (argv.some((a) => a === '--help' || a === '-h' || a === '--version')) return undefined;
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
  if (rule !== true && !(Array.isArray(rule) && rule.includes(words[1] ?? ''))) return undefined;
  return user ? 'required' : 'if-mapped';
}
