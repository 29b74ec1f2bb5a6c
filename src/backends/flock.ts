// The flock backend: the kernel's advisory lock on `<path>.lock`, shared with flock(1),
// Python's fcntl.flock and any other flock user. The kernel drops it the instant its holder
// dies, so nothing here ever guesses staleness, and the lock file is never unlinked (a waiter
// that opened the old file would lock an orphan while a newcomer locks a fresh file).
import { constants } from 'node:os';
import type { Backend, BackendOptions, LockTarget, Probe, Ticket } from './backend.js';
import { abortReason, systemError } from '../common/errors.js';
import { MAX_RECORD_BYTES, describe, describeHolders, holderFromKernel, holderFromRecord, isDead, ownIdentity, parseRecord, recordOf } from './holder.js';
import { flockHolders } from '../common/process.js';
import { type FlockAddon, loadAddon } from './addon.js';

const { ENOENT = 2, EWOULDBLOCK = 11, ETIMEDOUT = 110 } = constants.errno;

class FlockTicket implements Ticket {
  constructor(
    readonly key: string,
    readonly path: string,
    readonly lockfilePath: string,
    /** -1 once closed, and while a wait owns it (it hands back the descriptor that holds the lock). */
    public fd: number,
  ) {}
}

const ident = new Float64Array(2);
let recordBytes: Uint8Array | undefined;

/** This process's holder record, made once (it reads /proc for the start time). */
function holderRecord(): Uint8Array {
  recordBytes ??= Buffer.from(`${JSON.stringify(ownIdentity())}\n`);
  return recordBytes;
}

const current = Buffer.alloc(MAX_RECORD_BYTES + 1);

/**
 * Written only over an empty file or a lockedfile record: a lock file that holds anything else
 * (Bundler's Gemfile.lock, or the data file itself passed as lockfilePath) belongs to someone
 * else and is locked as it is, as flock(1) would. Repeated acquisitions cost one read.
 */
function writeHolderRecord(addon: FlockAddon, fd: number): void {
  const length = addon.readRecord(fd, current);
  if (length < 0) return; // not readable: not ours to write either
  const mine = holderRecord();
  if (length === mine.length && current.subarray(0, length).equals(mine)) return;
  if (length > 0 && (length > MAX_RECORD_BYTES || parseRecord(current.toString('utf8', 0, length)) === undefined)) return;
  // A read-only lock file still locks; the record is then simply not written.
  addon.writeRecord(fd, mine);
}

function operation(addon: FlockAddon, shared: boolean): number {
  return shared ? addon.LOCK_SH : addon.LOCK_EX;
}

function granted(addon: FlockAddon, ticket: FlockTicket, shared: boolean): void {
  // Shared holders are many; only an exclusive holder is worth naming.
  if (!shared) writeHolderRecord(addon, ticket.fd);
}

function failed(ticket: FlockTicket, errno: number): Error {
  ticket.fd = -1;
  return systemError(errno, 'flock', ticket, 'lock');
}

export const flockBackend: Backend<FlockTicket> = {
  name: 'flock',
  sharedLocks: true,

  open({ path, lockfilePath }: LockTarget, options: BackendOptions): FlockTicket {
    const fd = loadAddon(path, lockfilePath).open(lockfilePath, options.mode, ident);
    if (fd < 0) throw systemError(fd, 'open', { path, lockfilePath }, 'open the lock file');
    return new FlockTicket(`${ident[0]}:${ident[1]}`, path, lockfilePath, fd);
  },

  tryAcquire(ticket: FlockTicket, shared: boolean): boolean {
    const addon = loadAddon();
    const errno = addon.flock(ticket.fd, operation(addon, shared) | addon.LOCK_NB);
    if (errno === -EWOULDBLOCK) return false;
    if (errno !== 0) throw systemError(errno, 'flock', ticket, 'lock');
    granted(addon, ticket, shared);
    return true;
  },

  acquire(ticket: FlockTicket, shared: boolean, signal: AbortSignal): Promise<void> {
    const addon = loadAddon();
    holderRecord(); // made now, while waiting costs nothing, rather than once the lock is ours
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        addon.abandon(id); // parked for the next request on this lock file, or closed
        reject(abortReason(signal));
      };
      const id = addon.wait(ticket.fd, operation(addon, shared), (errno, fd) => {
        signal.removeEventListener('abort', onAbort);
        if (errno !== 0) return reject(failed(ticket, errno));
        ticket.fd = fd;
        granted(addon, ticket, shared);
        resolve();
      });
      if (id < 0) return reject(systemError(id, 'flock', ticket, 'start a wait for'));
      ticket.fd = -1;
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  },

  acquireSync(ticket: FlockTicket, shared: boolean, timeoutMs: number): boolean {
    const addon = loadAddon();
    const op = operation(addon, shared);
    if (timeoutMs === Infinity) {
      const errno = addon.flock(ticket.fd, op);
      if (errno !== 0) throw systemError(errno, 'flock', ticket, 'lock');
    } else {
      const fd = addon.waitSync(ticket.fd, op, timeoutMs);
      ticket.fd = -1; // the wait's now: parked, closed, or handed back below
      if (fd === -ETIMEDOUT) return false;
      if (fd < 0) throw failed(ticket, fd);
      ticket.fd = fd;
    }
    granted(addon, ticket, shared);
    return true;
  },

  release(ticket: FlockTicket): void {
    if (ticket.fd < 0) return;
    const addon = loadAddon();
    // Unlock before closing: a descriptor shared by a fork() would otherwise keep the lock.
    addon.flock(ticket.fd, addon.LOCK_UN);
    addon.close(ticket.fd);
    ticket.fd = -1;
  },

  describeHolder(lockfilePath: string): string | undefined {
    const record = recordOf(lockfilePath);
    // The kernel knows who holds the lock (Linux); the record only who last held it exclusively.
    // Where the kernel lists none (a holder in another pid namespace or on another NFS host;
    // btrfs and some overlayfs mounts name the file differently), the record is all there is.
    const holders = (flockHolders(lockfilePath) ?? []).map((holder) => holderFromKernel(holder, record));
    // Shared holders are all named; an exclusive one is the first listed.
    if (holders[0]?.shared) return `${describeHolders(holders)} (shared)`;
    if (holders[0]) return holders[0].description;
    return record && !isDead(record) ? `an unknown process (the last recorded holder is ${describe(record)})` : undefined;
  },

  status(target: LockTarget, options: BackendOptions): Probe {
    const { lockfilePath } = target;
    const record = recordOf(lockfilePath);
    const listed = flockHolders(lockfilePath);
    if (listed !== undefined && listed.length > 0) {
      return { state: listed[0]!.shared ? 'shared' : 'exclusive', holders: listed.map((holder) => holderFromKernel(holder, record)), source: 'kernel' };
    }
    // Not listed (see describeHolder), or no list (not Linux): flock itself is asked, without
    // waiting, without writing a record and without creating the file. A free lock is taken for
    // an instant.
    const addon = loadAddon(target.path, lockfilePath);
    const fd = addon.open(lockfilePath, options.mode, ident, false);
    if (fd === -ENOENT) return { state: 'free', holders: [], source: 'absent' };
    if (fd < 0) throw systemError(fd, 'open', target, 'open the lock file');
    try {
      for (const [op, state] of [[addon.LOCK_EX, 'free'], [addon.LOCK_SH, 'shared']] as const) {
        const errno = addon.flock(fd, op | addon.LOCK_NB);
        if (errno === 0) return { state, holders: [], source: 'probe' };
        if (errno !== -EWOULDBLOCK) throw systemError(errno, 'flock', target, 'probe');
      }
      // Held exclusively by someone the kernel does not name: the record says who last was.
      const last = record && !isDead(record) ? { lastRecorded: holderFromRecord(record) } : {};
      return { state: 'exclusive', holders: [], source: 'probe', ...last };
    } finally {
      addon.flock(fd, addon.LOCK_UN);
      addon.close(fd);
    }
  },
};
