// The pid-file backend: for Windows, which has no flock(2), and by choice elsewhere. The lock is
// the existence of `<path>.lock`, created exclusively and holding its holder's record. No kernel
// drops it when the holder dies, so staleness is decided here, as narrowly as possible: a record
// from a dead process on this host is stale at once; one from another host only after `stale` ms
// without the refresh its holder does every `stale / 3` ms.
import { randomUUID } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, linkSync, openSync, readSync, renameSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { constants } from 'node:os';
import type { Backend, BackendOptions, LockTarget, Probe, Ticket } from './backend.js';
import { canonicalPath } from '../common/paths.js';
import { LockError, errnoOf, errorCode, systemError } from '../common/errors.js';
import { type HolderRecord, describe, holderFromRecord, isDead, isLocal, ownIdentity, parseRecord } from './holder.js';
import { delays, sleep, sleepSync } from '../common/retry.js';

const { EEXIST = 17, EISDIR = 21, EINVAL = 22 } = constants.errno;

/**
 * An empty lock file younger than this may be a peer's on a file system without link(), between
 * its create and its write: busy. Older, it is another tool's lock (flock(1) leaves empty ones).
 */
const FILLING_MS = 1000;
/** The most of a lock file that is read: a record is at most 4 KiB. */
const READ_LIMIT = 4097;
/** link() errors of file systems that have no hard links (FAT, some network shares). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
/** Claims on claims: each level needs one more process to die inside a takeover. */
const MAX_CLAIM_DEPTH = 4;

class PidTicket implements Ticket {
  /** Set while held: the nonce of the record we wrote. */
  nonce: string | undefined;
  tookOver: string | undefined;
  refresher: NodeJS.Timeout | undefined;
  constructor(
    readonly key: string,
    readonly target: LockTarget,
    readonly options: BackendOptions,
  ) {}
  get lockfilePath(): string {
    return this.target.lockfilePath;
  }
}

/** One version of a lock (or claim) file, as read at one moment. */
interface Instance {
  /** Tells this version from any other: its record's nonce, else its inode and mtime. */
  readonly id: string;
  readonly record: HolderRecord | undefined;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly size: number;
}

interface Fresh {
  readonly nonce: string;
  readonly text: string;
}

function freshRecord(): Fresh {
  const nonce = randomUUID();
  return { nonce, text: `${JSON.stringify({ ...ownIdentity(), since: Date.now(), nonce })}\n` };
}

/** Creates `file` holding `text` with 'wx'; its inode, or undefined if it already exists. */
function createExclusive(file: string, text: string, mode: number, target: LockTarget): number | undefined {
  let fd: number;
  try {
    // 'wx' is O_CREAT|O_EXCL: atomic, and never follows a symlink planted at `file`.
    fd = openSync(file, 'wx', mode);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return undefined;
    throw systemError(errnoOf(error), 'open', target, 'create the lock file');
  }
  try {
    writeFileSync(fd, text);
    return fstatSync(fd).ino;
  } catch (error) {
    closeSync(fd);
    fd = -1;
    unlinkIfPresent(file);
    throw systemError(errnoOf(error), 'write', target, 'write the lock file');
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * Publishes `mine` at `file` (the lock file or a claim) complete or not at all; its inode, or
 * undefined if `file` exists. The record is written into a private file beside it, named from
 * our fresh nonce, and hard-linked into place: link() is atomic, fails with EEXIST if `file`
 * exists and never follows a symlink there, so nobody ever sees a half-written lock file (a
 * holder stalled between create and write used to look like a dead one). Only where the file
 * system has no hard links is the file created and filled in two steps.
 */
function publish(file: string, mine: Fresh, mode: number, target: LockTarget): number | undefined {
  const { lockfilePath } = target;
  const temp = join(dirname(lockfilePath), `.${basename(lockfilePath)}.${mine.nonce}.pending`);
  const ino = createExclusive(temp, mine.text, mode, target);
  // A fresh UUID's name taken: only someone who read our nonce could have planted it.
  if (ino === undefined) throw systemError(-EEXIST, 'open', target, 'create the lock file');
  try {
    linkSync(temp, file);
    return ino;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return undefined;
    if (code !== undefined && NO_LINKS.has(code)) return createExclusive(file, mine.text, mode, target);
    throw systemError(errnoOf(error), 'link', target, 'create the lock file');
  } finally {
    unlinkIfPresent(temp);
  }
}

/** Reads `file` as it is now; undefined if it is gone. */
function inspect(file: string, target: LockTarget): Instance | undefined {
  let fd: number;
  try {
    // Never blocks on a FIFO planted at the lock path, never follows a symlink there.
    fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0) | (fsConstants.O_NOFOLLOW ?? 0));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw systemError(errnoOf(error), 'open', target, 'read the lock file');
  }
  try {
    // Stat and read one descriptor, so that the mtime and the record belong to one version.
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw systemError(stats.isDirectory() ? -EISDIR : -EINVAL, 'open', target, 'use the lock file');
    // At most 4 KiB + 1: a hostile file may be huge, and anything longer is not a record anyway.
    const buffer = Buffer.alloc(READ_LIMIT);
    let length = 0;
    for (let got = -1; got !== 0 && length < READ_LIMIT; length += got) got = readSync(fd, buffer, length, READ_LIMIT - length, null);
    const record = parseRecord(buffer.toString('utf8', 0, length));
    // The id names claim files, so it is built from checked data only: a UUID, or numbers.
    return { id: record?.nonce ?? `${stats.ino}-${Math.trunc(stats.mtimeMs)}`, record, mtimeMs: stats.mtimeMs, ino: stats.ino, size: stats.size };
  } finally {
    closeSync(fd);
  }
}

/**
 * The error for a lock file that is not a lockedfile record: another tool's lock (Gemfile.lock,
 * poetry.lock, flock(1)'s empty files). It is never written, replaced or removed.
 */
function foreignLock(ticket: PidTicket, found: Instance): LockError {
  const what = found.size === 0 ? 'is empty (another tool\'s lock file?)' : 'holds something other than a lockedfile record (another tool\'s file?)';
  return new LockError(
    'ELOCKFOREIGN',
    ticket.target.path,
    `the lock file ${ticket.lockfilePath} ${what}; it is left as it is. Pass opts.lockfilePath to lock ${ticket.target.path} with another file, or remove ${ticket.lockfilePath} if nothing uses it.`,
    ticket.lockfilePath,
  );
}

/** A record whose pid we can check is stale once that process is gone; any other, once its refresh stops. */
function isStale(instance: Instance, staleMs: number): boolean {
  if (!instance.record) return false; // never ours to replace
  if (isLocal(instance.record)) return isDead(instance.record);
  return Date.now() - instance.mtimeMs > staleMs;
}

function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/**
 * Replaces `file`, found holding the stale `victim`, with `mine`. Race-free: the right to
 * replace one version is a claim file created exclusively, so of all the processes that found
 * the same stale version exactly one replaces it; the others either fail to create the claim or,
 * coming later, find the version gone. The claim is renamed over the file, so the lock never
 * disappears in between. A claim left by a process that died halfway is stale in turn and is
 * taken over the same way.
 */
function replaceStale(ticket: PidTicket, file: string, victim: Instance, mine: Fresh, depth: number): number | undefined {
  const { lockfilePath } = ticket;
  const { mode, stale } = ticket.options;
  // victim.id is a checked UUID or numbers from fstat: the claim stays beside the lock file.
  const claim = `${lockfilePath}.${victim.id}.takeover`;
  let ino = publish(claim, mine, mode, ticket.target);
  if (ino === undefined) {
    const rival = inspect(claim, ticket.target);
    if (depth >= MAX_CLAIM_DEPTH || !rival || !isStale(rival, stale)) return undefined;
    ino = replaceStale(ticket, claim, rival, mine, depth + 1);
    if (ino === undefined) return undefined;
  }
  try {
    if (inspect(file, ticket.target)?.id === victim.id) {
      renameSync(claim, file);
      return ino;
    }
  } catch {
    // Windows refuses to rename over a file that someone has open: try again on the next poll.
  }
  unlinkIfPresent(claim);
  return undefined;
}

function refresh(ticket: PidTicket): void {
  const nonce = ticket.nonce;
  if (nonce === undefined) return;
  try {
    if (inspect(ticket.lockfilePath, ticket.target)?.id === nonce) {
      const now = new Date();
      utimesSync(ticket.lockfilePath, now, now);
      return;
    }
  } catch {
    return; // a passing error (the file being replaced, say): try again next time
  }
  clearInterval(ticket.refresher);
  process.emitWarning(
    `lockedfile: the pid-file lock ${ticket.lockfilePath} was taken over while this process held it: ` +
      `it went more than ${ticket.options.stale} ms without a refresh. Raise opts.stale if this host is often that busy.`,
    { code: 'LOCKEDFILE_LOCK_LOST' },
  );
}

/** Whether the lock file is, right now, the very file we published with our nonce. */
function isOurs(ticket: PidTicket, ino: number, nonce: string): boolean {
  const now = inspect(ticket.lockfilePath, ticket.target);
  return now !== undefined && now.ino === ino && now.id === nonce;
}

function held(ticket: PidTicket, nonce: string): true {
  ticket.nonce = nonce;
  ticket.refresher = setInterval(refresh, ticket.options.stale / 3, ticket);
  ticket.refresher.unref();
  return true;
}

function tryAcquire(ticket: PidTicket): boolean {
  const { lockfilePath, options } = ticket;
  const mine = freshRecord();
  // Twice: a lock released between our create and our read is simply free again.
  for (let attempt = 0; attempt < 2; attempt++) {
    const ino = publish(lockfilePath, mine, options.mode, ticket.target);
    // Held only once confirmed: the path names our own file, with our nonce.
    if (ino !== undefined) return isOurs(ticket, ino, mine.nonce) && held(ticket, mine.nonce);
    const found = inspect(lockfilePath, ticket.target);
    if (!found) continue;
    if (!found.record) {
      // Never a half-made file of ours (they are published whole), except on a file system
      // without link(), for an instant: a young empty file is busy, anything else is foreign.
      if (found.size === 0 && Date.now() - found.mtimeMs < FILLING_MS) return false;
      throw foreignLock(ticket, found);
    }
    if (!isStale(found, options.stale)) return false;
    const taken = replaceStale(ticket, lockfilePath, found, mine, 0);
    if (taken === undefined || !isOurs(ticket, taken, mine.nonce)) return false;
    ticket.tookOver = describe(found.record);
    return held(ticket, mine.nonce);
  }
  return false;
}

export const pidfileBackend: Backend<PidTicket> = {
  name: 'pidfile',
  sharedLocks: false,

  open(target: LockTarget, options: BackendOptions): PidTicket {
    let key: string;
    try {
      key = canonicalPath(target.lockfilePath);
    } catch (error) {
      throw systemError(errnoOf(error), 'realpath', target, 'create the lock file');
    }
    return new PidTicket(key, target, options);
  },

  tryAcquire,

  async acquire(ticket: PidTicket, _shared: boolean, signal: AbortSignal): Promise<void> {
    for (const delay of delays(ticket.options.retry)) {
      await sleep(delay, signal);
      if (tryAcquire(ticket)) return;
    }
  },

  acquireSync(ticket: PidTicket, _shared: boolean, timeoutMs: number): boolean {
    const deadline = performance.now() + timeoutMs;
    for (const delay of delays(ticket.options.retry)) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      sleepSync(Math.min(delay, left));
      if (tryAcquire(ticket)) return true;
    }
    return false;
  },

  release(ticket: PidTicket): void {
    const nonce = ticket.nonce;
    if (nonce === undefined) return;
    ticket.nonce = undefined;
    clearInterval(ticket.refresher);
    // Only our own version: after a takeover the file is someone else's lock.
    if (inspect(ticket.lockfilePath, ticket.target)?.id === nonce) unlinkIfPresent(ticket.lockfilePath);
  },

  describeHolder(lockfilePath: string): string | undefined {
    try {
      const record = inspect(lockfilePath, { path: lockfilePath, lockfilePath })?.record;
      return record && describe(record);
    } catch {
      return undefined;
    }
  },

  status(target: LockTarget, options: BackendOptions): Probe {
    const found = inspect(target.lockfilePath, target);
    if (!found) return { state: 'free', holders: [], source: 'record' };
    if (!found.record) {
      // As tryAcquire judges it: a young empty file is a lock being made; anything else is foreign.
      if (found.size === 0 && Date.now() - found.mtimeMs < FILLING_MS) return { state: 'exclusive', holders: [], source: 'record' };
      throw foreignLock(new PidTicket(target.lockfilePath, target, options), found);
    }
    // A stale lock is free: the next lock() takes it over.
    if (isStale(found, options.stale)) return { state: 'free', holders: [], source: 'record' };
    return { state: 'exclusive', holders: [holderFromRecord(found.record)], source: 'record' };
  },
};
