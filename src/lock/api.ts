// The lock calls: lock, tryLock, lockSync, tryLockSync, withLock. They check their arguments
// and hand the request to the acquisition machine (acquire.ts).
import type { Ticket } from '../backends/backend.js';
import { acquire, acquireSync } from './acquire.js';
import { Handle, type Hold, type LockHandle, context } from './hold.js';
import { type LockOptions, resolveRequest } from './options.js';

/**
 * lock takes the lock on `path` (held in `path + '.lock'`), waiting as long as `opts.timeout`
 * allows. It rejects with a LockTimeoutError on timeout and with the signal's reason on abort;
 * either way nothing stays held. Inside `withLock` on the same path it returns at once with a
 * nested hold.
 */
export function lock(path: string | URL, opts?: LockOptions): Promise<LockHandle> {
  try {
    return acquire(resolveRequest(path, opts));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * tryLock takes the lock on `path` if it is free now, and resolves null if it is held,
 * by this process or another. It never waits.
 */
export async function tryLock(path: string | URL, opts?: LockOptions): Promise<LockHandle | null> {
  return acquireSync(resolveRequest(path, opts), false);
}

/**
 * lockSync takes the lock on `path`, blocking the thread for at most `opts.timeout` ms. It
 * throws ELOCKHELD rather than deadlock when this thread's asynchronous code holds the lock.
 */
export function lockSync(path: string | URL, opts?: LockOptions): LockHandle {
  return acquireSync(resolveRequest(path, opts), true)!;
}

/** tryLockSync takes the lock on `path` if it is free now, else returns null. It never blocks. */
export function tryLockSync(path: string | URL, opts?: LockOptions): LockHandle | null {
  return acquireSync(resolveRequest(path, opts), false);
}

/**
 * withLock runs `fn` while holding the lock on `path` and releases it when `fn` returns or
 * throws. Within `fn` (and everything it awaits), locking the same path again is a nested hold
 * that succeeds at once.
 */
export async function withLock<T>(
  path: string | URL,
  fn: (handle: LockHandle) => T | Promise<T>,
  opts?: LockOptions,
): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError('lockedfile: withLock(path, fn): fn must be a function.');
  const handle = (await lock(path, opts)) as Handle;
  try {
    const held = new Map(context.getStore());
    held.set(handle.hold.key, handle.hold);
    return await context.run(held, fn, handle);
  } finally {
    handle.release();
  }
}

// For the file stack and the CLI, not public.

/** Whether the calling async context holds a lock (inside withLock): updateFile then never batches. */
export function holdsLocks(): boolean {
  for (const hold of context.getStore()?.values() ?? []) if (!hold.released) return true;
  return false;
}

/** The locks the calling context holds; `runHolding` runs code from another context as their holder. */
export function heldLocks(): ReadonlyMap<string, Hold> | undefined {
  return context.getStore();
}

export function runHolding<T>(held: ReadonlyMap<string, Hold> | undefined, fn: () => T): T {
  return held ? context.run(held, fn) : fn();
}

/**
 * lockDescriptor is the open descriptor that holds a flock lock (the CLI hands it to its
 * command, as flock(1) does, so the lock lasts as long as the command has it); undefined for
 * pid-file locks, which no descriptor holds.
 */
export function lockDescriptor(handle: LockHandle): number | undefined {
  const fd = handle instanceof Handle && !handle.released ? (handle.hold.ticket as Ticket & { fd?: number }).fd : undefined;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
