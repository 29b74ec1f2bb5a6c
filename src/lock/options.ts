// Checking and defaulting what callers pass, so that the lock layer only sees valid requests.
import { resolve } from 'node:path';
import type { Backend, BackendOptions } from '../backends/backend.js';
import { type BackendChoice, selectBackend } from '../backends/select.js';
import { LockError } from '../common/errors.js';
import { resolveTarget, toPath } from '../common/paths.js';
import { type RetryOptions, defaultRetry } from '../common/retry.js';

/** Options for every lock call. */
export interface LockOptions {
  /** Take a shared (read) lock: many shared holders at once, none while an exclusive one holds. */
  shared?: boolean;
  /** Give up after this many ms with a LockTimeoutError. Default: wait forever. */
  timeout?: number;
  /** Give up when this signal aborts, rejecting with its reason. */
  signal?: AbortSignal;
  /** Lock mechanism; default 'auto' (flock, or pid files on Windows; see LOCKEDFILE_BACKEND). */
  backend?: BackendChoice;
  /** Where the lock lives. Default: `path + '.lock'`. */
  lockfilePath?: string;
  /** Mode of a lock file this call creates. Default 0o600 (owner only). */
  lockfileMode?: number;
  /** Polling backends (pidfile): backoff between attempts. */
  retry?: Partial<RetryOptions>;
  /** pidfile: ms without refresh after which a lock held from another host is stale. Default 10000. */
  stale?: number;
}

/** A request after checking: absolute paths, a backend, every default filled in. */
export interface Request {
  readonly path: string;
  readonly lockfilePath: string;
  readonly backend: Backend;
  readonly shared: boolean;
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
  readonly backendOptions: BackendOptions;
}

const defaultBackendOptions: BackendOptions = { mode: 0o600, retry: defaultRetry, stale: 10_000 };

function checkNumber(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new RangeError(`lockedfile: opts.${name} must be a number >= ${min}, got ${String(value)}.`);
  }
  return value;
}

function checkMode(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0o7777) {
    throw new RangeError(`lockedfile: opts.${name} must be an integer file mode from 0 to 0o7777, got ${String(value)}.`);
  }
  return value as number;
}

function checkRetry(retry: unknown): RetryOptions {
  if (typeof retry !== 'object' || retry === null) throw new TypeError('lockedfile: opts.retry must be an object.');
  const merged = { ...defaultRetry, ...retry } as Record<keyof RetryOptions, unknown>;
  const finite = (name: keyof RetryOptions, min: number, max = Infinity): number => {
    const value = merged[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new RangeError(`lockedfile: opts.retry.${name} must be a finite number from ${min}${max === Infinity ? '' : ` to ${max}`}, got ${String(value)}.`);
    }
    return value;
  };
  const minDelay = finite('minDelay', 0);
  return { minDelay, maxDelay: finite('maxDelay', minDelay), factor: finite('factor', 1), jitter: finite('jitter', 0, 1) };
}

/** Node's timers fire at once beyond 2^31-1 ms (24.8 days): any longer wait is a wait without end. */
function forTimer(ms: number): number {
  return ms > 2 ** 31 - 1 ? Infinity : ms;
}

/**
 * The file whose lock guards `path`: through symlinks, the file they name, so that lock(link)
 * and updateFile(link) agree. A folder that cannot be resolved is left for the lock file's
 * open to report (ENOENT, EACCES) with its advice; a refused link (ELOCKSYMLINK) is reported
 * here, or the lock would be taken beside the link instead.
 */
function lockTarget(path: string): string {
  try {
    return resolveTarget(path);
  } catch (error) {
    if (error instanceof LockError) throw error;
    return resolve(path);
  }
}

/** resolveRequest validates a call's arguments and fills in the defaults. */
export function resolveRequest(path: unknown, options: LockOptions = {}): Request {
  if (typeof options !== 'object' || options === null) throw new TypeError('lockedfile: opts must be an object.');
  const given = toPath(path);
  const absolute = resolve(given);
  const lockfilePath = options.lockfilePath === undefined ? `${lockTarget(given)}.lock` : resolve(toPath(options.lockfilePath, 'opts.lockfilePath'));
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('lockedfile: opts.signal must be an AbortSignal.');
  if (options.shared !== undefined && typeof options.shared !== 'boolean') throw new TypeError(`lockedfile: opts.shared must be a boolean, got ${typeof options.shared}.`);
  if ('mode' in options && (options as { mode?: unknown }).mode !== undefined) {
    throw new TypeError("lockedfile: opts.mode is not a lock option: the lock file's mode is opts.lockfileMode.");
  }
  const backend = selectBackend(options.backend);
  const custom = options.lockfileMode !== undefined || options.retry !== undefined || options.stale !== undefined;
  return {
    path: absolute,
    lockfilePath,
    backend,
    shared: options.shared === true && backend.sharedLocks,
    timeout: options.timeout === undefined ? Infinity : forTimer(checkNumber(options.timeout, 'timeout', 0)),
    signal,
    backendOptions: custom
      ? {
          mode: options.lockfileMode === undefined ? defaultBackendOptions.mode : checkMode(options.lockfileMode, 'lockfileMode'),
          retry: options.retry === undefined ? defaultRetry : checkRetry(options.retry),
          stale: options.stale === undefined ? defaultBackendOptions.stale : checkNumber(options.stale, 'stale', 1),
        }
      : defaultBackendOptions,
  };
}
