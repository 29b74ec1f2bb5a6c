// The pid-file backend: for Windows, which has no flock(2), and by choice elsewhere. The lock is
// the existence of `<path>.lock`, created exclusively and holding its holder's record. No kernel
// drops it when the holder dies, so staleness is decided here, as narrowly as possible: a record
// from a dead process on this host is stale at once; one from another host only after `stale` ms
// without the refresh its holder does every `stale / 3` ms.
import { randomUUID } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, linkSync, openSync, readSync, renameSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { constants } from 'node:os';
import type { Backend, BackendOptions, LockTarget, Ticket } from './backend.js';
import { canonicalPath } from '../canonical.js';
import { LockError, errorCode, systemError } from '../errors.js';
import { type HolderRecord, MAX_RECORD_BYTES, describe, isDead, ownIdentity, parseRecord } from '../holder.js';
import { onTakeover } from '../observe.js';
import { delays, sleep, sleepSync } from '../retry.js';

const { EISDIR = 21, EINVAL = 22 } = constants.errno;

/** An empty lock file (left by a writer that died on a file system without link(), or by another tool) is stale after this long. */
const UNREADABLE_STALE_MS = 1000;
/** Claims on claims: each level needs one more process to die inside a takeover. */
const MAX_CLAIM_DEPTH = 4;

class PidTicket implements Ticket {
  /** Set while held: the nonce of the record we wrote. */
  nonce: string | undefined;
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
  /** Bytes in the file: an unreadable file that is not empty is another tool's, never ours to replace. */
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

function errnoOf(error: unknown): number {
  return (error as NodeJS.ErrnoException).errno ?? -1;
}

// Where link() cannot make hard links (FAT, some network file systems): create and fill in place.
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Creates `file` holding `text`; false if it already exists. The record is written whole into a
 * private file first and then linked into place (link() fails if the name exists, and never
 * follows a symlink there), so nobody ever sees the lock file empty or half written — and a
 * creator stalled between create and write can never be mistaken for a dead one.
 */
function createExclusive(file: string, text: string, mode: number, lockfilePath: string): boolean {
  const pending = join(dirname(file), `.${basename(file)}.${randomUUID()}.pending`);
  createInPlace(pending, text, mode, lockfilePath);
  try {
    linkSync(pending, file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    if (!NO_LINKS.has(errorCode(error) ?? '')) throw systemError(errnoOf(error), 'link', lockfilePath, 'create the lock file');
  } finally {
    unlinkIfPresent(pending);
  }
  return createInPlace(file, text, mode, lockfilePath);
}

function createInPlace(file: string, text: string, mode: number, lockfilePath: string): boolean {
  let fd: number;
  try {
    // 'wx' is O_CREAT|O_EXCL: atomic, and never follows a symlink planted at `file`.
    fd = openSync(file, 'wx', mode);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw systemError(errnoOf(error), 'open', lockfilePath, 'create the lock file');
  }
  try {
    writeSync(fd, text);
  } catch (error) {
    closeSync(fd);
    unlinkSync(file);
    throw systemError(errnoOf(error), 'write', lockfilePath, 'write the lock file');
  }
  closeSync(fd);
  return true;
}

/** Reads `file` as it is now; undefined if it is gone. */
function inspect(file: string, lockfilePath: string): Instance | undefined {
  let fd: number;
  try {
    // Never blocks on a FIFO planted at the lock path, never follows a symlink there.
    fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0) | (fsConstants.O_NOFOLLOW ?? 0));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw systemError(errnoOf(error), 'open', lockfilePath, 'read the lock file');
  }
  try {
    // Stat and read one descriptor, so that the mtime and the record belong to one version.
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw systemError(stats.isDirectory() ? EISDIR : EINVAL, 'open', lockfilePath, 'use the lock file');
    const bytes = Buffer.alloc(MAX_RECORD_BYTES + 1);
    const length = readSync(fd, bytes, 0, bytes.length, 0);
    const record = parseRecord(bytes.toString('utf8', 0, length));
    // The id names a claim file: only a validated nonce (a UUID) or numbers from fstat go in it.
    return { id: record?.nonce ?? `${stats.ino}-${Math.round(stats.mtimeMs)}`, record, mtimeMs: stats.mtimeMs, size: stats.size };
  } finally {
    closeSync(fd);
  }
}

function isStale(instance: Instance, staleMs: number): boolean {
  const age = Date.now() - instance.mtimeMs;
  if (!instance.record) return age > UNREADABLE_STALE_MS;
  if (instance.record.hostname === ownIdentity().hostname) return isDead(instance.record);
  return age > staleMs;
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
function replaceStale(ticket: PidTicket, file: string, victim: Instance, mine: Fresh, depth: number): boolean {
  const { lockfilePath } = ticket;
  const { mode, stale } = ticket.options;
  const claim = `${lockfilePath}.${victim.id}.takeover`;
  if (!createExclusive(claim, mine.text, mode, lockfilePath)) {
    const rival = inspect(claim, lockfilePath);
    if (depth >= MAX_CLAIM_DEPTH || !rival || !isStale(rival, stale)) return false;
    if (!replaceStale(ticket, claim, rival, mine, depth + 1)) return false;
  }
  try {
    if (inspect(file, lockfilePath)?.id === victim.id) {
      renameSync(claim, file);
      return true;
    }
  } catch {
    // Windows refuses to rename over a file that someone has open: try again on the next poll.
  }
  unlinkIfPresent(claim);
  return false;
}

function refresh(ticket: PidTicket): void {
  const nonce = ticket.nonce;
  if (nonce === undefined) return;
  try {
    if (inspect(ticket.lockfilePath, ticket.lockfilePath)?.id === nonce) {
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

function held(ticket: PidTicket, nonce: string): true {
  ticket.nonce = nonce;
  ticket.refresher = setInterval(refresh, ticket.options.stale / 3, ticket);
  ticket.refresher.unref();
  return true;
}

function foreign(ticket: PidTicket): LockError {
  const { path, lockfilePath } = ticket.target;
  return new LockError(
    'ELOCKFOREIGN',
    path,
    `cannot lock ${path}: its lock file ${lockfilePath} exists and is not a lockedfile lock (another tool's file?); ` +
      'it is left untouched. Pass opts.lockfilePath to keep the lock elsewhere.',
    lockfilePath,
  );
}

function tryAcquire(ticket: PidTicket): boolean {
  const { lockfilePath, options } = ticket;
  const mine = freshRecord();
  // Twice: a lock released between our create and our read is simply free again.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (createExclusive(lockfilePath, mine.text, options.mode, lockfilePath)) return held(ticket, mine.nonce);
    const found = inspect(lockfilePath, lockfilePath);
    if (!found) continue;
    if (!found.record && found.size > 0) throw foreign(ticket);
    if (!isStale(found, options.stale)) return false;
    if (!replaceStale(ticket, lockfilePath, found, mine, 0)) return false;
    onTakeover({ ...ticket.target, backend: pidfileBackend, shared: false }, found.record ? describe(found.record) : 'an unreadable lock file');
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
      throw systemError(errnoOf(error), 'realpath', target.lockfilePath, 'create the lock file');
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
    if (inspect(ticket.lockfilePath, ticket.lockfilePath)?.id === nonce) unlinkIfPresent(ticket.lockfilePath);
  },

  describeHolder(lockfilePath: string): string | undefined {
    try {
      const record = inspect(lockfilePath, lockfilePath)?.record;
      return record && describe(record);
    } catch {
      return undefined;
    }
  },
};
