// Named locks: a lock on a resource ("persona:ada", "single-instance") rather than on a file,
// kept as a lock file in a lock folder under a name that cannot escape it or collide.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { LockError, errorCode, fileError } from '../common/errors.js';
import { toPath } from '../common/paths.js';
import { lock, withLock } from './api.js';
import type { LockHandle } from './hold.js';
import type { LockOptions } from './options.js';

/** Options for named locks: every lock option but `lockfilePath`, and the folder to keep them in. */
export interface NameOptions extends Omit<LockOptions, 'lockfilePath'> {
  /**
   * The folder that holds the lock files of names, created if missing. Every process sharing a
   * name must use the same folder. Default: `lockedfile-<uid>` in the OS temp folder.
   */
  folder?: string | URL;
}

/** Longest encoded name kept whole; longer ones keep a prefix and a hash (file names stop at 255 bytes). */
const MAX_NAME = 200;

/**
 * The file name for a name: lower-case letters, digits, `_`, `-` and (not first) `.` stay; every
 * other byte of its UTF-8 becomes %XX. No separator or `..` can survive, and two names never
 * share a file, on case-insensitive or normalising file systems too (no upper-case or non-ASCII
 * letter is left to fold).
 */
function fileName(name: string): string {
  let encoded = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += /[a-z0-9_-]/.test(char) || (char === '.' && encoded !== '') ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (encoded.length <= MAX_NAME) return encoded;
  // `~` is always encoded, so a shortened name never equals a whole one.
  let prefix = encoded.slice(0, MAX_NAME - 40);
  const cut = prefix.lastIndexOf('%');
  if (cut > prefix.length - 3) prefix = prefix.slice(0, cut);
  return `${prefix}~${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

/**
 * The default folder, made owner-only. In a shared temp folder another user could have made it
 * first, to watch or meddle with our locks: it must be a real folder, ours, and not writable by
 * others.
 */
function defaultFolder(): string {
  const uid = process.getuid?.();
  const temp = tmpdir();
  // A relative TMPDIR would give each working directory a folder, and each its own locks.
  if (!isAbsolute(temp)) {
    throw fileError('EINVAL', 'mkdir', temp, `the temp folder ${JSON.stringify(temp)} (TMPDIR) is not an absolute path: set TMPDIR to one, or pass opts.folder.`);
  }
  // Windows' temp folder is already the user's own.
  const folder = join(temp, uid === undefined ? 'lockedfile' : `lockedfile-${uid}`);
  if (uid !== undefined) checkTemp(temp, folder);
  try {
    mkdirSync(folder, { mode: 0o700 });
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw folderError(error, folder);
  }
  const info = lstatSync(folder);
  if (uid !== undefined && (!info.isDirectory() || info.uid !== uid || (info.mode & 0o022) !== 0)) {
    throw new LockError(
      'ELOCKFOREIGN',
      folder,
      `will not keep named locks in ${folder}: it is not a folder of yours that only you can write to ` +
        `(owner uid ${info.uid}, mode ${(info.mode & 0o7777).toString(8)}). Remove it, or pass opts.folder.`,
    );
  }
  return folder;
}

/**
 * In a temp folder that others may write but that is not sticky, anyone could swap our folder
 * for a link between the check below and a lock: refused, as /tmp without its sticky bit.
 */
function checkTemp(temp: string, folder: string): void {
  let mode: number;
  try {
    mode = statSync(temp).mode;
  } catch (error) {
    throw folderError(error, folder);
  }
  if ((mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
    throw new LockError(
      'ELOCKFOREIGN',
      folder,
      `will not keep named locks in ${temp}: other users may write to it and it is not sticky (mode ${(mode & 0o7777).toString(8)}), ` +
        'so they could replace the lock folder. Set the sticky bit (chmod +t), or pass opts.folder.',
    );
  }
}

/** The folder a call names, created if missing. */
function folderOf(folder: string | URL | undefined): string {
  if (folder === undefined) return defaultFolder();
  const path = resolve(toPath(folder, 'opts.folder'));
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw folderError(error, path);
  }
  return path;
}

function folderError(error: unknown, folder: string): unknown {
  const code = errorCode(error);
  if (code === undefined) return error;
  return fileError(code, 'mkdir', folder, `cannot create the lock folder ${folder} (${code}): create it, or pass another opts.folder.`);
}

/**
 * namedLockPath is the path that stands for the lock called `name` (its lock file is this path
 * plus `.lock`), for the calls that take a path: `tryLock(namedLockPath('nightly'))`,
 * `lockStatus(...)`, the CLI. It creates the folder if missing.
 */
export function namedLockPath(name: string, opts: Pick<NameOptions, 'folder'> = {}): string {
  if (typeof name !== 'string' || name === '') throw new TypeError(`lockedfile: a lock name must be a non-empty string, got ${typeof name === 'string' ? '""' : typeof name}.`);
  // A lone surrogate has no UTF-8: encoded, it would become U+FFFD and share that name's lock.
  if (/\p{Cs}/u.test(name)) throw new TypeError(`lockedfile: the lock name ${JSON.stringify(name)} holds a lone UTF-16 surrogate, which names no character.`);
  return join(folderOf(opts.folder), fileName(name));
}

/**
 * The request for a named lock: its lock file named outright, so that nothing planted in the
 * folder (a link at the name) is followed.
 */
function namedRequest(name: string, { folder, ...options }: NameOptions): [string, LockOptions] {
  const path = namedLockPath(name, { folder });
  return [path, { ...options, lockfilePath: `${path}.lock` }];
}

function checked(opts: NameOptions): NameOptions {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('lockedfile: opts must be an object.');
  if ('lockfilePath' in opts) throw new TypeError('lockedfile: a named lock keeps its lock file in opts.folder; opts.lockfilePath does not apply.');
  return opts;
}

/** lockName takes the lock called `name`, as lock() does for a path. Any string is a name. */
export function lockName(name: string, opts: NameOptions = {}): Promise<LockHandle> {
  try {
    return lock(...namedRequest(name, checked(opts)));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** withLockName runs `fn` while holding the lock called `name`, as withLock() does for a path. */
export async function withLockName<T>(name: string, fn: (handle: LockHandle) => T | Promise<T>, opts: NameOptions = {}): Promise<T> {
  const [path, options] = namedRequest(name, checked(opts));
  return withLock(path, fn, options);
}
