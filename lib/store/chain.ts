/**
 * The OCI image spec's ChainID of a list of diff_ids: the name a merged tree is stored under, so
 * that images sharing their layers share it too.
 */
import crypto from 'node:crypto';

/** ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)). */
export function chainId(diffIds: string[]): string {
  if (!diffIds.length) return 'sha256:' + crypto.createHash('sha256').update('').digest('hex');
  let id = diffIds[0];
  for (const d of diffIds.slice(1)) id = 'sha256:' + crypto.createHash('sha256').update(`${id} ${d}`).digest('hex');
  return id;
}

/** The chain id as the trees view keys it: hex, no algorithm prefix. */
export function treeKey(diffIds: string[]): string {
  return chainId(diffIds).replace(/^sha256:/, '');
}
