// lockAll: several locks taken in one order that every process agrees on, held by one handle.
import { performance } from 'node:perf_hooks';
import { canonicalPath } from '../common/paths.js';
import { lock } from './api.js';
import type { LockHandle } from './hold.js';
import { type LockOptions, type Request, resolveRequest } from './options.js';

/**
 * LockSetHandle holds several locks; releasing it releases them all, in the reverse of the
 * order they were taken. `using` / `await using` call `release()` at the end of the block.
 */
export interface LockSetHandle {
  /** The locks held, one per lock file, in the order they were taken. */
  readonly handles: readonly LockHandle[];
  /** Whether every lock has been released. */
  readonly released: boolean;
  release(): void;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

class LockSet implements LockSetHandle {
  constructor(readonly handles: readonly LockHandle[]) {}
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
 * The identity of a request's lock file, the same one its in-process gate goes by (device and
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
 * bounds the whole; on timeout, abort or error it releases what it took. `opts.lockfilePath`
 * names one lock and is refused.
 */
export async function lockAll(paths: ReadonlyArray<string | URL>, opts: LockOptions = {}): Promise<LockSetHandle> {
  if (!Array.isArray(paths) || paths.length === 0) throw new TypeError('lockedfile: lockAll(paths): paths must be a non-empty array.');
  if (typeof opts !== 'object' || opts === null) throw new TypeError('lockedfile: opts must be an object.');
  if (opts.lockfilePath !== undefined) throw new TypeError('lockedfile: lockAll(paths, opts): opts.lockfilePath names one lock and cannot apply to several paths.');
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
    for (const path of byName.values()) {
      const timeout = Math.max(0, deadline - performance.now());
      handles.push(await lock(path, { ...opts, timeout }));
    }
  } catch (error) {
    for (const handle of handles.reverse()) handle.release();
    throw error;
  }
  return new LockSet(handles);
}
