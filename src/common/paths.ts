import { type Stats, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, parse, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LockError, fileError } from './errors.js';

/**
 * canonicalPath names a file the same way however its folder is spelled (relative, absolute,
 * through a symlinked folder). The file itself need not exist; its folder must.
 */
export function canonicalPath(file: string): string {
  return join(realpathSync.native(dirname(file)), basename(file));
}

/** As many links as the kernel follows before ELOOP. */
const MAX_LINKS = 40;

/** S_ISVTX and S_IWOTH: a folder (/tmp) where anyone may plant a link that only its owner can remove. */
const STICKY_WORLD_WRITABLE = 0o1002;

/**
 * resolveTarget is the one rule for which file a path names, used for its lock and for every
 * write: the real path through every symlink, the file itself included; a dangling link names
 * the file it will create; a missing file names itself in its real folder. A symlink that sits
 * in a sticky, world-writable folder is followed only when it belongs to this process's user or
 * to the folder's owner, as the kernel's fs.protected_symlinks rules, whatever that setting:
 * any other is refused with a LockError ELOCKSYMLINK.
 */
export function resolveTarget(path: string): string {
  const file = resolve(path);
  // The common case, an existing file reached through no symlink, costs one realpath: it
  // returns the path unchanged only when no name on the way is a link.
  try {
    const real = realpathSync.native(file);
    // Where there are no owners to compare (Windows), realpath's answer stands: it also settles
    // the letter case, which the walk would not.
    if (real === file || process.geteuid === undefined) return real;
  } catch {
    // Missing, or not reachable: the walk says which.
  }
  return walk(path, file);
}

/**
 * Follows the absolute `file` one name at a time, as the kernel does, so that every link on the
 * way, folders included, is checked by checkLink. `..` in a link's target goes up from the
 * link's real folder, as in realpath.
 */
function walk(path: string, file: string): string {
  const { root } = parse(file);
  const names = pending([], file.slice(root.length));
  let folder = root;
  let links = 0;
  while (names.length > 0) {
    const name = names.pop()!;
    if (name === '..') {
      folder = dirname(folder);
      continue;
    }
    const next = join(folder, name);
    // Only the last name may be missing: it names the file to create.
    const info = lstatSync(next, { throwIfNoEntry: names.length > 0 });
    if (info === undefined) return next;
    if (info.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw fileError('ELOOP', 'stat', path, `too many symbolic links in ${path}`);
      checkLink(path, next, info, folder);
      const target = readlinkSync(next);
      const { root: top } = parse(target); // '' for a relative target
      if (top !== '') folder = top;
      pending(names, target.slice(top.length));
      continue;
    }
    if (names.length > 0 && !info.isDirectory()) {
      throw fileError('ENOTDIR', 'stat', next, `${next} is not a folder`);
    }
    folder = next;
  }
  return folder;
}

/** Puts the names of `relative` on the `names` stack, the first one on top. */
function pending(names: string[], relative: string): string[] {
  const parts = relative.split(sep).filter((name) => name !== '' && name !== '.');
  for (let index = parts.length - 1; index >= 0; index--) names.push(parts[index]!);
  return names;
}

/**
 * Refuses a link that another user planted in a sticky, world-writable folder, the kernel's
 * fs.protected_symlinks rule: this package resolves links itself, so the kernel never sees them.
 */
function checkLink(path: string, link: string, info: Stats, folder: string): void {
  const uid = process.geteuid?.();
  if (uid === undefined || info.uid === uid) return; // no owners to compare (Windows), or our own link
  const shared = lstatSync(folder);
  if ((shared.mode & STICKY_WORLD_WRITABLE) !== STICKY_WORLD_WRITABLE || info.uid === shared.uid) return;
  const via = link === resolve(path) ? 'it is' : `it goes through ${link},`;
  throw new LockError(
    'ELOCKSYMLINK',
    path,
    `will not follow ${path}: ${via} a symbolic link owned by uid ${info.uid} in ${folder}, a sticky world-writable folder,` +
      ` where only links owned by you (uid ${uid}) or by the folder's owner (uid ${shared.uid}) are followed.` +
      ' Use the real path of the file you mean, or keep the file out of the shared folder.',
  );
}

/** toPath accepts what Node's fs accepts for a path that names a file: a string or a file: URL. */
export function toPath(path: unknown, what = 'path'): string {
  if (path instanceof URL) return fileURLToPath(path);
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    const got = typeof path === 'string' ? JSON.stringify(path) : path === null ? 'null' : typeof path;
    throw new TypeError(`lockedfile: ${what} must be a non-empty string or a file: URL, got ${got}.`);
  }
  return path;
}
