// The lock API: queueing within the process, reentrancy, timeouts, abort and handles, the same
// for every backend. A request goes: checked options -> backend.open -> the path's Gate (FIFO in
// this process) -> backend.tryAcquire, else backend.acquire (a kernel wait or polling).
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { BackendName, Ticket } from './backends/backend.js';
import { canonicalPath } from './canonical.js';
import { LockError, LockTimeoutError, abortReason } from './errors.js';
import { onAcquired, onGaveUp, onReleased, onWaiting } from './observe.js';
import { type LockOptions, type Request, resolveRequest } from './options.js';
import { Gate } from './queue.js';

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
interface Hold {
  readonly request: Request;
  readonly key: string;
  readonly ticket: Ticket;
  readonly gate: Gate<Hold>;
  acquiredAt: number;
  released: boolean;
  /** Handles still holding it: the outer one and every nested one. The kernel lock lasts until none is left. */
  refs: number;
}

const gates = new Map<string, Gate<Hold>>();
/** The holds the current async context owns through withLock, by key. */
const context = new AsyncLocalStorage<ReadonlyMap<string, Hold>>();

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

class Handle implements LockHandle {
  #released = false;
  constructor(
    readonly hold: Hold,
    private readonly acquiredAt: number,
  ) {
    hold.refs++;
    forgotten.register(this, hold, this);
  }
  get path(): string {
    return this.hold.request.path;
  }
  get lockfilePath(): string {
    return this.hold.request.lockfilePath;
  }
  get backend(): BackendName {
    return this.hold.request.backend.name;
  }
  get shared(): boolean {
    return this.hold.request.shared;
  }
  get released(): boolean {
    return this.#released;
  }
  release(): void {
    if (this.#released) return;
    this.#released = true;
    forgotten.unregister(this);
    // Published first: the next waiter in this process may be granted within releaseHold.
    onReleased(this.hold.request, performance.now() - this.acquiredAt);
    if (--this.hold.refs === 0) releaseHold(this.hold);
  }
  [Symbol.dispose](): void {
    this.release();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}

function releaseHold(hold: Hold): void {
  if (hold.released) return;
  hold.released = true;
  hold.request.backend.release(hold.ticket);
  hold.gate.release(hold);
  forgetIdleGates();
}

/** Idle gates are kept for reuse (locking one file again and again is the common case), up to this many. */
const IDLE_GATES_KEPT = 256;

function forgetIdleGates(): void {
  if (gates.size <= IDLE_GATES_KEPT) return;
  for (const [key, gate] of gates) if (gate.idle) gates.delete(key);
}

/** Opens the request's ticket; returns the handle at once if the context already holds the lock. */
function prepare(request: Request): Hold | Handle {
  const ticket = request.backend.open(request, request.backendOptions);
  const key = `${request.backend.name}:${ticket.key}`;
  const outer = context.getStore()?.get(key);
  // A callback scheduled inside withLock may run after it returned: its hold is gone by then.
  if (outer && !outer.released) {
    request.backend.release(ticket);
    return nestedHold(outer, request);
  }
  let gate = gates.get(key);
  if (!gate) {
    gate = new Gate<Hold>(startAcquiring);
    gates.set(key, gate);
  }
  return { request, key, ticket, gate, acquiredAt: 0, released: false, refs: 0 };
}

function nestedHold(outer: Hold, request: Request): Handle {
  if (request.shared && !outer.request.shared) request = { ...request, shared: false };
  if (!request.shared && outer.request.shared) {
    throw new LockError(
      'ELOCKUPGRADE',
      request.path,
      `cannot take an exclusive lock on ${request.path} while this async context holds it shared: ` +
        'a shared lock cannot be upgraded without a deadlock. Take the lock exclusive from the start.',
    );
  }
  const now = performance.now();
  onAcquired(request, 0, false);
  return new Handle(outer, now);
}

function granted(hold: Hold, startedAt: number, contended: boolean): Handle {
  hold.acquiredAt = performance.now();
  onAcquired(hold.request, hold.acquiredAt - startedAt, contended);
  return new Handle(hold, hold.acquiredAt);
}

/** Drops a hold that never got the lock: closes its ticket and lets the next request go. */
function abandonHold(hold: Hold): void {
  hold.released = true;
  hold.request.backend.release(hold.ticket);
  hold.gate.failed(hold);
  forgetIdleGates();
}

/** Who holds the request's lock, if that can be told: a message's detail, never a reason to fail. */
function holderOf(request: Request): string | undefined {
  try {
    return request.backend.describeHolder(request.lockfilePath);
  } catch {
    return undefined;
  }
}

/** Waiting state of an asynchronous request, while it is queued or acquiring. */
interface Waiter {
  readonly startedAt: number;
  readonly resolve: (handle: Handle) => void;
  readonly reject: (error: unknown) => void;
  /** Aborts the backend's wait, if one is under way. */
  readonly backendWait: AbortController;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
  settled: boolean;
}

const waiters = new WeakMap<Hold, Waiter>();

/** Called by a Gate when a queued request's turn comes. */
function startAcquiring(hold: Hold): void {
  const waiter = waiters.get(hold);
  if (!waiter || waiter.settled) return;
  const { backend, shared } = hold.request;
  try {
    if (backend.tryAcquire(hold.ticket, shared)) return settle(hold, waiter, () => waiter.resolve(granted(hold, waiter.startedAt, true)));
  } catch (error) {
    return fail(hold, waiter, error);
  }
  onWaiting(hold.request, () => holderOf(hold.request));
  backend.acquire(hold.ticket, shared, waiter.backendWait.signal).then(
    () => {
      if (!waiter.settled) settle(hold, waiter, () => waiter.resolve(granted(hold, waiter.startedAt, true)));
      // A grant that raced a timeout: nobody wants it.
      else if (!hold.released) abandonHold(hold);
    },
    (error: unknown) => {
      if (!waiter.settled) fail(hold, waiter, error);
    },
  );
}

function settle(hold: Hold, waiter: Waiter, then: () => void): void {
  waiter.settled = true;
  clearTimeout(waiter.timer);
  if (waiter.onAbort) hold.request.signal?.removeEventListener('abort', waiter.onAbort);
  if (hold.gate.acquiring === hold) hold.gate.acquired(hold);
  then();
}

function fail(hold: Hold, waiter: Waiter, error: unknown): void {
  waiter.settled = true;
  clearTimeout(waiter.timer);
  if (waiter.onAbort) hold.request.signal?.removeEventListener('abort', waiter.onAbort);
  waiter.backendWait.abort();
  abandonHold(hold);
  waiter.reject(error);
}

function waitForTurn(hold: Hold, startedAt: number): Promise<Handle> {
  const { request } = hold;
  return new Promise<Handle>((resolve, reject) => {
    const waiter: Waiter = { startedAt, resolve, reject, backendWait: new AbortController(), settled: false };
    waiters.set(hold, waiter);
    if (request.timeout !== Infinity) {
      waiter.timer = setTimeout(() => {
        const waited = performance.now() - startedAt;
        // Our own wait lets go first: a grant racing this timeout must not be named the holder.
        waiter.backendWait.abort();
        const holder = holderOf(request);
        onGaveUp(request, waited, 'timeout', holder);
        fail(hold, waiter, new LockTimeoutError(request.path, request.lockfilePath, waited, holder));
      }, request.timeout);
    }
    const signal = request.signal;
    if (signal) {
      waiter.onAbort = () => {
        onGaveUp(request, performance.now() - startedAt, 'abort');
        fail(hold, waiter, abortReason(signal));
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    hold.gate.enter(hold, request.shared);
  });
}

async function acquire(request: Request): Promise<Handle> {
  const startedAt = performance.now();
  if (request.signal?.aborted) throw abortReason(request.signal);
  const prepared = prepare(request);
  if (prepared instanceof Handle) return prepared;
  const hold = prepared;
  const { gate } = hold;
  if (gate.canStartNow(request.shared)) {
    gate.startNow(hold, request.shared);
    let free: boolean;
    try {
      free = request.backend.tryAcquire(hold.ticket, request.shared);
    } catch (error) {
      abandonHold(hold);
      throw error;
    }
    if (free) {
      gate.acquired(hold);
      return granted(hold, startedAt, false);
    }
    // Held elsewhere: give the turn back and wait like any other request (it starts at once).
    gate.failed(hold);
  }
  return waitForTurn(hold, startedAt);
}

/** The synchronous path: no in-process queue can be waited for, since this thread is the one holding it. */
function acquireSync(request: Request, wait: boolean): Handle | null {
  const startedAt = performance.now();
  const prepared = prepare(request);
  if (prepared instanceof Handle) return prepared;
  const hold = prepared;
  if (!hold.gate.canStartNow(request.shared)) {
    abandonHold(hold);
    if (!wait) return null;
    throw new LockError(
      'ELOCKHELD',
      request.path,
      `lockSync(${request.path}) would deadlock: this thread already holds or awaits that lock in asynchronous code. ` +
        'Use lock() instead, or release the other hold first.',
    );
  }
  hold.gate.startNow(hold, request.shared);
  let got: boolean;
  let contended = false;
  try {
    got = request.backend.tryAcquire(hold.ticket, request.shared);
    if (!got && wait && request.timeout > 0) {
      contended = true;
      got = request.backend.acquireSync(hold.ticket, request.shared, request.timeout);
    }
  } catch (error) {
    abandonHold(hold);
    throw error;
  }
  if (got) {
    hold.gate.acquired(hold);
    return granted(hold, startedAt, contended);
  }
  abandonHold(hold);
  if (!wait) return null;
  const waited = performance.now() - startedAt;
  const holder = holderOf(request);
  onGaveUp(request, waited, 'timeout', holder);
  throw new LockTimeoutError(request.path, request.lockfilePath, waited, holder);
}

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

/** A handle on several locks; releasing it releases them all. */
export interface LockSetHandle extends LockHandle {
  /** The locks held, in the order they were taken. */
  readonly handles: readonly LockHandle[];
}

class LockSet implements LockSetHandle {
  constructor(readonly handles: readonly LockHandle[]) {}
  private get first(): LockHandle {
    return this.handles[0]!;
  }
  get path(): string {
    return this.first.path;
  }
  get lockfilePath(): string {
    return this.first.lockfilePath;
  }
  get backend(): BackendName {
    return this.first.backend;
  }
  get shared(): boolean {
    return this.first.shared;
  }
  get released(): boolean {
    return this.handles.every((handle) => handle.released);
  }
  release(): void {
    for (let index = this.handles.length - 1; index >= 0; index--) this.handles[index]!.release();
  }
  [Symbol.dispose](): void {
    this.release();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The order every process agrees on: the lock file's real path, however it was spelled. */
function canonicalName(lockfilePath: string): string {
  try {
    return canonicalPath(lockfilePath);
  } catch {
    return lockfilePath; // the lock itself will report what is wrong with the folder
  }
}

/**
 * The identity of a request's lock file, the same one its in-process queue goes by (device and
 * inode for flock): two paths naming one lock file (a hard link, a bind mount) are one lock.
 */
function identityOf(request: Request): string {
  const ticket = request.backend.open(request, request.backendOptions);
  request.backend.release(ticket);
  return `${request.backend.name}:${ticket.key}`;
}

/**
 * lockAll takes the locks on all `paths` in one order every process agrees on (their lock
 * files' real paths), so that processes locking overlapping sets never deadlock, and returns one
 * handle that releases them all. Paths naming one lock file are locked once. `opts.timeout`
 * bounds the whole; on timeout, abort or error it releases what it took.
 */
export async function lockAll(paths: ReadonlyArray<string | URL>, opts: LockOptions = {}): Promise<LockSetHandle> {
  if (!Array.isArray(paths) || paths.length === 0) throw new TypeError('lockedfile: lockAll(paths): paths must be a non-empty array.');
  if (opts.lockfilePath !== undefined) throw new TypeError('lockedfile: lockAll(paths, opts): opts.lockfilePath names one lock and cannot apply to several paths.');
  // Ordered by the lock files' real paths, which every process agrees on; deduplicated by the
  // identity the in-process queue goes by, so two names of one lock file are locked once.
  const byName = new Map<string, string>();
  const identities = new Set<string>();
  const requests = paths.map((path) => resolveRequest(path, opts)).sort((x, y) => compare(canonicalName(x.lockfilePath), canonicalName(y.lockfilePath)));
  for (const request of requests) {
    const identity = identityOf(request);
    if (identities.has(identity)) continue;
    identities.add(identity);
    byName.set(canonicalName(request.lockfilePath), request.path);
  }
  const deadline = performance.now() + (opts.timeout ?? Infinity);
  const handles: LockHandle[] = [];
  try {
    for (const name of byName.keys()) {
      const timeout = Math.max(0, deadline - performance.now());
      handles.push(await lock(byName.get(name)!, { ...opts, timeout }));
    }
  } catch (error) {
    for (const handle of handles.reverse()) handle.release();
    throw error;
  }
  return new LockSet(handles);
}

/**
 * lockDescriptor is the open descriptor that holds a flock lock (not public: the CLI hands it
 * to its command, as flock(1) does, so the lock lasts as long as the command has it); undefined
 * for pid-file locks, which no descriptor holds.
 */
export function lockDescriptor(handle: LockHandle): number | undefined {
  const fd = handle instanceof Handle && !handle.released ? (handle.hold.ticket as Ticket & { fd?: number }).fd : undefined;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
