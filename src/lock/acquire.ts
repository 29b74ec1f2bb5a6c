// The acquisition machine, the same for every backend. A request goes: checked options ->
// backend.open -> the lock file's Gate (FIFO in this process) -> backend.tryAcquire, else
// backend.acquire (a kernel wait or polling), bounded by the timeout and the abort signal.
import { performance } from 'node:perf_hooks';
import { LockError, LockTimeoutError, abortReason } from '../common/errors.js';
import { Gate } from './gate.js';
import { Handle, type Hold, context, dropHold, gates } from './hold.js';
import { onAcquired, onGaveUp, onTakeover, onWaiting } from './observe.js';
import type { Request } from './options.js';

/** Opens the request's ticket; returns a nested handle at once if the context already holds the lock. */
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
  return { request, key, ticket, gate, released: false, refs: 0 };
}

function nestedHold(outer: Hold, request: Request): Handle {
  if (request.shared && !outer.request.shared) request = { ...request, shared: false };
  if (!request.shared && outer.request.shared) {
    throw new LockError(
      'ELOCKUPGRADE',
      request.path,
      `cannot take an exclusive lock on ${request.path} while this async context holds it shared: ` +
        'a shared lock cannot be upgraded without a deadlock. Take the lock exclusive from the start.',
      request.lockfilePath,
    );
  }
  onAcquired(request, 0, false);
  return new Handle(outer, performance.now(), request);
}

/** The gate has let `hold` in and the backend granted it: the caller's handle. */
function granted(hold: Hold, startedAt: number, contended: boolean): Handle {
  const acquiredAt = performance.now();
  const { ticket } = hold;
  if (ticket.tookOver !== undefined) {
    onTakeover(hold.request, ticket.tookOver);
    ticket.tookOver = undefined;
  }
  onAcquired(hold.request, acquiredAt - startedAt, contended);
  return new Handle(hold, acquiredAt);
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
    if (backend.tryAcquire(hold.ticket, shared)) return succeed(hold, waiter);
  } catch (error) {
    return fail(hold, waiter, error);
  }
  // Once the wait is the backend's, a timeout or abort ends it through backendWait, and the
  // backend rejects (flock parks the kernel wait, pidfile stops polling): fail() has run by then.
  backend.acquire(hold.ticket, shared, waiter.backendWait.signal).then(
    // A grant after the abort would break the backend's contract: let go rather than leak it.
    () => (waiter.settled ? backend.release(hold.ticket) : succeed(hold, waiter)),
    (error: unknown) => {
      if (!waiter.settled) fail(hold, waiter, error);
    },
  );
}

/** What ends every wait: no timer, no abort listener, and no second ending. */
function settle(hold: Hold, waiter: Waiter): void {
  waiter.settled = true;
  clearTimeout(waiter.timer);
  if (waiter.onAbort) hold.request.signal?.removeEventListener('abort', waiter.onAbort);
}

function succeed(hold: Hold, waiter: Waiter): void {
  settle(hold, waiter);
  hold.gate.acquired(hold);
  waiter.resolve(granted(hold, waiter.startedAt, true));
}

function fail(hold: Hold, waiter: Waiter, error: unknown): void {
  settle(hold, waiter);
  waiter.backendWait.abort();
  dropHold(hold, 'abandon');
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
    // Published once the timer and the abort listener are in place: a subscriber may abort.
    onWaiting(request, () => holderOf(request));
    if (!waiter.settled) hold.gate.enter(hold, request.shared);
  });
}

/** acquire takes the lock for a checked request, waiting in the gate and the backend as needed. */
export async function acquire(request: Request): Promise<Handle> {
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
      dropHold(hold, 'abandon');
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

/**
 * acquireSync is the synchronous path: no in-process queue can be waited for, since this thread
 * is the one holding it. Null when `wait` is false and the lock is held.
 */
export function acquireSync(request: Request, wait: boolean): Handle | null {
  const startedAt = performance.now();
  const prepared = prepare(request);
  if (prepared instanceof Handle) return prepared;
  const hold = prepared;
  if (!hold.gate.canStartNow(request.shared)) {
    dropHold(hold, 'abandon');
    if (!wait) return null;
    throw new LockError(
      'ELOCKHELD',
      request.path,
      `lockSync(${request.path}) would deadlock: this thread already holds or awaits that lock in asynchronous code. ` +
        'Use lock() instead, or release the other hold first.',
      request.lockfilePath,
    );
  }
  hold.gate.startNow(hold, request.shared);
  let got: boolean;
  let contended = false;
  try {
    got = request.backend.tryAcquire(hold.ticket, request.shared);
    if (!got && wait && request.timeout > 0) {
      contended = true;
      onWaiting(request, () => holderOf(request));
      got = request.backend.acquireSync(hold.ticket, request.shared, request.timeout);
    }
  } catch (error) {
    dropHold(hold, 'abandon');
    throw error;
  }
  if (got) {
    hold.gate.acquired(hold);
    return granted(hold, startedAt, contended);
  }
  dropHold(hold, 'abandon');
  if (!wait) return null;
  const waited = performance.now() - startedAt;
  const holder = holderOf(request);
  onGaveUp(request, waited, 'timeout', holder);
  throw new LockTimeoutError(request.path, request.lockfilePath, waited, holder);
}
