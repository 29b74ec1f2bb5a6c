// What a granted lock is in this process: a Hold (the backend's ticket, shared by nested holds)
// and the Handles that callers release. Also the two registries every call consults: the gate
// per lock file, and the holds each async context owns through withLock.
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { BackendName, Ticket } from '../backends/backend.js';
import { Gate } from './gate.js';
import { onReleased } from './observe.js';
import type { Request } from './options.js';

/**
 * LockHandle is a held lock. `release()` lets it go; it is idempotent and synchronous, and
 * `using` / `await using` call it at the end of the block.
 */
export interface LockHandle {
  /** The absolute path the lock protects. */
  readonly path: string;
  /** The absolute path of the lock file. */
  readonly lockfilePath: string;
  readonly backend: BackendName;
  /** Whether this is a shared lock (pid files have no shared locks: always false there). */
  readonly shared: boolean;
  /** Whether `release()` has been called. */
  readonly released: boolean;
  release(): void;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A kernel-level (or pid-file) hold, shared by its handle and any nested holds. */
export interface Hold {
  readonly request: Request;
  /** The backend's name for the lock file (device and inode for flock): one gate per key. */
  readonly key: string;
  readonly ticket: Ticket;
  readonly gate: Gate<Hold>;
  released: boolean;
  /** Handles still holding it: the outer one and every nested one. The kernel lock lasts until none is left. */
  refs: number;
}

/** The in-process gate of each lock file, by key. */
export const gates = new Map<string, Gate<Hold>>();

/** The holds the current async context owns through withLock, by key. */
export const context = new AsyncLocalStorage<ReadonlyMap<string, Hold>>();

// A held lock whose handle is garbage-collected can never be released by its owner: say so.
// It is never released here: the holder may still be working (`await lock(f)` kept for the
// process's lifetime), and letting go behind its back would let a second holder in.
const forgotten = new FinalizationRegistry<Hold>((hold) => {
  if (hold.released) return;
  process.emitWarning(
    `lockedfile: the handle of the lock on ${hold.request.path} was garbage-collected while held; ` +
      'the lock stays held until this process exits. Call release() (or use withLock / `using`) when done with a lock.',
    { code: 'LOCKEDFILE_LEAKED_LOCK' },
  );
});

export class Handle implements LockHandle {
  #released = false;
  constructor(
    readonly hold: Hold,
    private readonly acquiredAt: number,
    /** The request this handle answers: a nested hold's own, which may spell the path otherwise. */
    private readonly request: Request = hold.request,
  ) {
    hold.refs++;
    forgotten.register(this, hold, this);
  }
  get path(): string {
    return this.request.path;
  }
  get lockfilePath(): string {
    return this.request.lockfilePath;
  }
  get backend(): BackendName {
    return this.request.backend.name;
  }
  get shared(): boolean {
    return this.request.shared;
  }
  get released(): boolean {
    return this.#released;
  }
  release(): void {
    if (this.#released) return;
    this.#released = true;
    forgotten.unregister(this);
    // Published first: the next waiter in this process may be granted within dropHold.
    onReleased(this.request, performance.now() - this.acquiredAt);
    if (--this.hold.refs === 0) dropHold(this.hold, 'release');
  }
  [Symbol.dispose](): void {
    this.release();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}

/** Idle gates are kept for reuse (locking one file again and again is the common case), up to this many. */
const IDLE_GATES_KEPT = 256;

/**
 * dropHold ends a hold: the backend lets go of the lock (or of the attempt) and closes its
 * ticket, and the gate lets the next request in. `how` says which the gate is told: a holder
 * released, or a request that never got the lock left.
 */
export function dropHold(hold: Hold, how: 'release' | 'abandon'): void {
  if (hold.released) return;
  hold.released = true;
  hold.request.backend.release(hold.ticket);
  if (how === 'release') hold.gate.release(hold);
  else hold.gate.failed(hold);
  if (gates.size > IDLE_GATES_KEPT) for (const [key, gate] of gates) if (gate.idle) gates.delete(key);
}
