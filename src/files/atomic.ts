// The rename discipline, written once: a temp file beside the target, written and fsynced, then
// renamed over it, then the folder fsynced. A reader sees the old file or the new one, never a
// mix, and a crash at any moment leaves one of the two whole.
//
// The steps are synchronous system calls, except the fsyncs: each of them takes microseconds on a
// local disk, where an asynchronous call costs a round trip through libuv's thread pool (0.1 to
// 0.3 ms here), and updateFile makes them while it holds the lock every other writer waits for.
// An fsync takes milliseconds, and runs in the pool while the event loop goes on.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Stats, closeSync, fchmodSync, fchownSync, fstatSync, fsync, lstatSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { pidNamespace } from '../common/process.js';
import { LockError, errorCode, explained, fileError } from '../common/errors.js';
import { resolveTarget, toPath } from '../common/paths.js';
import { defaultRetry, delays, sleep } from '../common/retry.js';

/** Options for writeFileAtomic. */
export interface WriteOptions {
  /**
   * What is on disk when the call resolves. true (the default): the data and the rename, by an
   * fsync of the file and of its folder. 'data': the data only (what write-file-atomic and most
   * peers give): after a power cut the file is whole, but may be the one before this write.
   * false: neither, for files that can be rebuilt.
   */
  fsync?: boolean | 'data';
  /** Mode of a file this call creates (default 0o666, less the umask). An existing file keeps its own. */
  mode?: number;
}

/** The longest file name most file systems take, in bytes. */
const NAME_MAX = 255;

/** `.name.` shortened on a character boundary so that a temp name always fits when the name does. */
function tempPrefix(target: string): string {
  let name = basename(target);
  while (Buffer.byteLength(name) + TEMP_SUFFIX_BYTES > NAME_MAX) name = name.slice(0, -1);
  // A lone high surrogate left by the cut would not survive the round trip to bytes.
  if (/[\ud800-\udbff]$/.test(name)) name = name.slice(0, -1);
  return `.${name}.`;
}

/** `.` before the name, then `.<pid>-<tag>-<random>.tmp` after it. */
const TEMP_SUFFIX_BYTES = 1 + 1 + 8 + 1 + 8 + 1 + 16 + 4;

/**
 * This process's mark on its temp files: its pid and a tag for its host and pid namespace, so a
 * sweep can tell a dead writer's leftover from a live writer's file in progress.
 */
let ownTag: string | undefined;
function writerTag(): string {
  if (ownTag === undefined) {
    ownTag = createHash('sha256').update(`${hostname()}\0${pidNamespace() ?? ''}`).digest('hex').slice(0, 8);
  }
  return `${process.pid.toString(36).padStart(8, '0')}-${ownTag}`;
}

/** Beside the target (a rename cannot cross file systems), hidden, unpredictable, marked with its writer. */
function tempName(target: string): string {
  return join(dirname(target), `${tempPrefix(target)}${writerTag()}-${randomBytes(8).toString('hex')}.tmp`);
}

const TEMP = /^([0-9a-z]{8})-([0-9a-f]{8})-[0-9a-f]{16}\.tmp$/;

/** Whether the writer of a temp file is certainly gone: it ran here (same host and namespace) and its pid is not alive. */
function writerGone(suffix: string): boolean {
  const match = TEMP.exec(suffix);
  if (!match || match[2] !== ownTag) return false;
  const pid = Number.parseInt(match[1]!, 36);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errorCode(error) === 'ESRCH';
  }
}

/**
 * removeTempFiles deletes the temp files that writers of `target` left when they were killed:
 * only those whose writer is certainly gone, never one a live writeFileAtomic (which takes no
 * lock) is still writing. A reused pid only makes it keep a file.
 */
export async function removeTempFiles(target: string): Promise<void> {
  writerTag();
  const prefix = tempPrefix(target);
  const names = await readdir(dirname(target)).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(prefix) && writerGone(name.slice(prefix.length))) {
      await unlink(join(dirname(target), name)).catch(() => {});
    }
  }
}

/**
 * The file a write to `path` must replace: through a symlink, its target (so the link stays a
 * link). A dangling link names the file it will create. The same rule places its lock.
 */
export async function writeTarget(path: string): Promise<string> {
  return resolveTarget(path);
}

// Worth another try: the system is short of something for a moment, or (Windows) a reader or a
// virus scanner has the target open while we rename over it.
const transient = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', ...(process.platform === 'win32' ? ['EPERM', 'EACCES'] : [])]);
const MAX_ATTEMPTS = 8;

async function retrying<T>(step: () => T): Promise<T> {
  const pauses = delays(defaultRetry);
  for (let attempt = 1; ; attempt++) {
    try {
      return step();
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !transient.has(errorCode(error) ?? '')) throw error;
      await sleep(pauses.next().value);
    }
  }
}

const fsyncInPool = promisify(fsync);

/** syncFolder makes a rename in `folder` durable (where the platform can fsync a folder). */
export async function syncFolder(folder: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(folder, 'r');
    await fsyncInPool(fd);
  } catch (error) {
    // Some platforms and file systems cannot open or fsync a folder; the rename is still atomic.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EACCES', 'ENOTSUP'].includes(errorCode(error) ?? '')) throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function checkData(data: unknown): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  throw new TypeError(`lockedfile: writeFileAtomic(path, data): data must be a string or a Uint8Array, got ${data === null ? 'null' : typeof data}.`);
}

/**
 * writeFileAtomic replaces the contents of `path` with `data` so that no reader and no crash
 * ever sees a partial file: the previous contents stay whole until the new ones are complete.
 * An existing file keeps its mode, and its owner and group where allowed (root: both; another
 * user: the group, if it belongs to it); a symlink stays a link and its
 * target is replaced. On failure the target is untouched and no temp file remains.
 */
export async function writeFileAtomic(path: string | URL, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const file = toPath(path);
  const bytes = checkData(data);
  syncsData(opts);
  const target = await writeTarget(file).catch((error: unknown) => {
    throw explained(error, 'write', file);
  });
  await replaceFile(target, bytes, opts, file);
  await nextTurn();
}

/**
 * Resolves on the next turn of the event loop. A call whose I/O was synchronous still lets timers
 * and other I/O run before it resolves, as an asynchronous one does: a loop of such calls never
 * starves them.
 */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Gives the new file the old one's owner and group where this process may (root: both; any other
 * user: the group, when it belongs to it), and returns the mode to set: the old one, less the
 * set-id bits of an owner or group that could not be kept.
 */
function keepOwner(fd: number, existing: Stats): number {
  const mode = existing.mode & 0o7777;
  const uid = process.geteuid?.();
  if (uid === undefined) return mode; // no owners here (Windows)
  // The new file's group may be the folder's (setgid folder), not the writer's.
  let created = fstatSync(fd);
  if (created.uid !== existing.uid || created.gid !== existing.gid) {
    try {
      fchownSync(fd, uid === 0 ? existing.uid : uid, existing.gid);
    } catch (error) {
      // Best effort: not in the group, an id this user namespace cannot map, root squashed on NFS.
      if (!['EPERM', 'EINVAL', 'ENOTSUP', 'ENOSYS'].includes(errorCode(error) ?? '')) throw error;
    }
    created = fstatSync(fd);
  }
  // Set-id bits stay only with the owner or group they were set for, as a write in place does.
  return mode & ~(created.uid === existing.uid ? 0 : 0o4000) & ~(created.gid === existing.gid ? 0 : 0o2000);
}

/**
 * replaceFile is writeFileAtomic for a `target` already resolved by writeTarget (no symlink left
 * to follow); `shown` is the path errors name. With `syncLater`, the folder is not fsynced: the
 * caller does it (syncFolder) before it reports the write done.
 */
export async function replaceFile(target: string, bytes: string | Uint8Array, opts: WriteOptions, shown = target, syncLater = false): Promise<void> {
  // lstat: the target is resolved, so a link here was planted since; the rename replaces it.
  let existing: Stats | undefined;
  try {
    existing = lstatSync(target);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw explained(error, 'write', shown);
  }
  if (existing?.isSymbolicLink()) {
    throw new LockError('ELOCKSYMLINK', shown, `will not write ${shown}: ${target} became a symbolic link after the path was resolved. Nothing was written.`);
  }
  if (existing?.isDirectory()) {
    throw fileError('EISDIR', 'open', shown, `cannot write ${shown}: it is a directory.`);
  }
  const temp = tempName(target);
  let fd: number | undefined;
  try {
    fd = await retrying(() => openSync(temp, 'wx', existing ? existing.mode & 0o7777 : (opts.mode ?? 0o666)));
    writeFileSync(fd, bytes);
    // Exactly, whatever the umask; after chown, which may clear set-id bits.
    if (existing) fchmodSync(fd, keepOwner(fd, existing));
    if (syncsData(opts)) await fsyncInPool(fd);
    const written = fd;
    fd = undefined; // closed once, even if close fails (the number may be reused at once)
    closeSync(written);
    await retrying(() => renameSync(temp, target));
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    try {
      unlinkSync(temp);
    } catch {
      // not created, or already gone
    }
    throw explained(error, 'write', shown);
  }
  if (syncsFolder(opts) && !syncLater) await syncFolder(dirname(target));
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // the error that matters is the one being thrown
  }
}

/** Whether a write with `opts` fsyncs its data; throws a TypeError for an fsync option that is not one. */
export function syncsData(opts: WriteOptions): boolean {
  const { fsync = true } = opts;
  if (fsync !== true && fsync !== false && fsync !== 'data') {
    throw new TypeError(`lockedfile: opts.fsync must be true, 'data' or false, got ${JSON.stringify(fsync)}.`);
  }
  return fsync !== false;
}

/** Whether a write with `opts` fsyncs its folder too, which makes the rename durable. */
export function syncsFolder(opts: WriteOptions): boolean {
  return syncsData(opts) && opts.fsync !== 'data';
}
