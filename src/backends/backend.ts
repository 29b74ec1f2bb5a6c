import type { RetryOptions } from '../common/retry.js';
import type { LockHolder } from './holder.js';

/** The names of the lock backends. */
export type BackendName = 'flock' | 'pidfile';

/** What a backend needs to know about one request besides the lock file. */
export interface BackendOptions {
  /** Mode bits for a lock file this call creates. */
  readonly mode: number;
  /** Polling backends: delays between attempts. */
  readonly retry: RetryOptions;
  /** pidfile: ms without refresh after which a lock from another host is stale. */
  readonly stale: number;
}

/** What a backend can tell of a lock without waiting for it. */
export interface Probe {
  readonly state: 'free' | 'shared' | 'exclusive';
  /** Who holds it, where that is known; empty when free. */
  readonly holders: readonly LockHolder[];
  /**
   * How it was told: 'kernel' (Linux's table of locks: nothing was locked), 'probe' (a try
   * that took the lock and let it go at once, where the kernel lists no holder), 'record' (the
   * pid file), 'absent' (there is no lock file: nothing holds it, and none was made).
   */
  readonly source: 'kernel' | 'probe' | 'record' | 'absent';
  /**
   * 'probe' only: the last exclusive holder the lock file records, when that process still
   * runs. It may have let go since: the kernel could not say who holds the lock now.
   */
  readonly lastRecorded?: LockHolder;
}

/** What is locked: a path, and the lock file that guards it. */
export interface LockTarget {
  readonly path: string;
  readonly lockfilePath: string;
}

/**
 * A Ticket is one request's handle on a lock file: opened, maybe locked. `key` names the lock
 * file however its path was spelled, so that two spellings share one in-process queue.
 */
export interface Ticket {
  readonly key: string;
  readonly lockfilePath: string;
  /**
   * Set by an acquisition that replaced a stale lock (pidfile): who held it. The caller reports
   * the takeover and clears this.
   */
  tookOver?: string | undefined;
}

/**
 * Backend is what differs between lock mechanisms: acquiring and releasing one lock file.
 * Queueing, reentrancy, timeouts, metrics and errors are the caller's (lock.ts).
 */
export interface Backend<T extends Ticket = Ticket> {
  readonly name: BackendName;
  /** Whether `shared` locks are truly shared (else they are taken exclusively). */
  readonly sharedLocks: boolean;
  /** Prepares a request; throws a system error naming the lock file if it cannot. */
  open(target: LockTarget, options: BackendOptions): T;
  /** Takes the lock if it is free now; never waits. */
  tryAcquire(ticket: T, shared: boolean): boolean;
  /** Waits for the lock; rejects with `signal.reason` on abort, leaving nothing held. */
  acquire(ticket: T, shared: boolean, signal: AbortSignal): Promise<void>;
  /** Waits at most `timeoutMs` with the thread blocked; false on timeout. */
  acquireSync(ticket: T, shared: boolean, timeoutMs: number): boolean;
  /** Drops the lock, if held, and closes the ticket. Idempotent. */
  release(ticket: T): void;
  /** Who holds the lock, in one line, if that can be told. */
  describeHolder(lockfilePath: string): string | undefined;
  /** Whether the lock file, which exists, is locked and by whom, without waiting and without writing to it. */
  status(target: LockTarget, options: BackendOptions): Probe;
}
