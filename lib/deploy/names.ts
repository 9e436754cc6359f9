/** Container names: they become a unit name, a runc id and a directory name under the state root. */
import { usageError } from '../errors.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** names the state root uses for itself */
const RESERVED = new Set(['store', 'repo', 'journal']);

export function validateName(name: string): string {
  const what = JSON.stringify(name);
  const hint = 'a name is letters, digits, "_", "." and "-", starting with a letter or digit (at most 100 characters)';
  if (name === '') throw usageError('the container name is empty', hint);
  if (name.startsWith('-')) throw usageError(`container name ${what} starts with "-"`, hint);
  if (name.includes('/')) throw usageError(`container name ${what} contains "/"`, hint);
  if (name.includes('..')) throw usageError(`container name ${what} contains ".."`, hint);
  if (/\s/.test(name)) throw usageError(`container name ${what} contains white space`, hint);
  if (!NAME_RE.test(name) || name.length > 100) throw usageError(`container name ${what} is not valid`, hint);
  // NAME.0 / NAME.1 are deployment directories: "web.0" as a name would collide with web's
  if (/\.\d+$/.test(name)) throw usageError(`container name ${what} ends in ".<digits>", which sysctr uses for deployments`, hint);
  if (RESERVED.has(name)) throw usageError(`container name ${what} is reserved by sysctr`, hint);
  return name;
}

/** The name install uses when --name is not given: the image's repository's last component. */
export function nameFromImage(imageName: string): string {
  const noDigest = imageName.split('@')[0];
  const lastSlash = noDigest.lastIndexOf('/');
  const repoAndTag = noDigest.slice(lastSlash + 1);
  const colon = repoAndTag.indexOf(':');
  return colon >= 0 ? repoAndTag.slice(0, colon) : repoAndTag;
}
