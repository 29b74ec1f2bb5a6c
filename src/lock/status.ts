// lockStatus: whether a lock is free or held, and by whom, without waiting for it.
import { lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BackendName, Probe } from '../backends/backend.js';
import { errnoOf, systemError } from '../common/errors.js';
import { type LockOptions, resolveRequest } from './options.js';

/** LockStatus is what lockStatus found, at one moment: by the time it is read it may have changed. */
export interface LockStatus extends Probe {
  /** The absolute path asked about. */
  readonly path: string;
  /** The lock file that was looked at. */
  readonly lockfilePath: string;
  readonly backend: BackendName;
}

/** The options lockStatus uses: which lock, and with which backend. */
export type StatusOptions = Pick<LockOptions, 'backend' | 'lockfilePath' | 'stale'>;

/**
 * lockStatus says whether the lock on `path` is free, held shared or held exclusively, and by
 * whom where that is known. It never waits and never creates a lock file. With flock on Linux
 * the kernel's table of locks answers without locking anything; where it lists no holder (not
 * Linux, or a holder it cannot see) a non-blocking try answers, taking a free lock for an
 * instant. With pid files the record answers; a stale one counts as free. The answer is a
 * snapshot: use tryLock to act on it.
 */
export function lockStatus(path: string | URL, opts: StatusOptions = {}): LockStatus {
  const request = resolveRequest(path, opts);
  const { lockfilePath, backend } = request;
  const where = { path: request.path, lockfilePath, backend: backend.name };
  try {
    if (lstatSync(lockfilePath, { throwIfNoEntry: false }) === undefined) {
      lstatSync(dirname(lockfilePath)); // a missing folder is an error, as lock() reports it
      return { ...where, state: 'free', holders: [], source: 'absent' };
    }
  } catch (error) {
    throw systemError(errnoOf(error), 'stat', request, 'look at the lock file');
  }
  return { ...where, ...backend.status(request, request.backendOptions) };
}
