import { type Stats, accessSync, constants as fsConstants, lstatSync } from 'node:fs';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';

/** The stable `code` strings this package's own errors carry (system errors keep Node's codes). */
export type LockErrorCode = 'ELOCKTIMEOUT' | 'ELOCKUPGRADE' | 'ELOCKHELD' | 'ELOCKBACKEND' | 'ELOCKFOREIGN' | 'ELOCKSYMLINK' | 'EJSONCPARSE';

/**
 * LockError is any failure this package reports itself, with a stable `code`, the `path` asked
 * for and, where a lock file is involved, its `lockfilePath`.
 */
export class LockError extends Error {
  override readonly name: string = 'LockError';
  constructor(
    readonly code: LockErrorCode,
    readonly path: string,
    message: string,
    readonly lockfilePath?: string,
    options?: ErrorOptions,
  ) {
    super(`lockedfile: ${message}`, options);
  }
}

/**
 * LockTimeoutError is thrown when a lock was not granted within `timeout` ms. Its message names
 * the path, the time waited and, where it is known, the holder.
 */
export class LockTimeoutError extends LockError {
  override readonly name = 'LockTimeoutError';
  declare readonly code: 'ELOCKTIMEOUT';
  declare readonly lockfilePath: string;
  constructor(
    path: string,
    lockfilePath: string,
    /** Milliseconds waited before giving up. */
    readonly waitedMs: number,
    /** Who held the lock when the wait ended, if known ("pid 4242 (node a.js) on host h ..."). */
    readonly holder: string | undefined,
  ) {
    super(
      'ELOCKTIMEOUT',
      path,
      `timed out after ${Math.round(waitedMs)} ms waiting for the lock on ${path}` +
        ` (${holder ? `held by ${holder}` : 'holder unknown'}; lock file ${lockfilePath}).` +
        ' Raise opts.timeout, or find out why the holder keeps the lock.',
      lockfilePath,
    );
  }
}

/** Advice per errno for a lock file that could not be opened or created. */
const openAdvice: Record<string, string> = {
  ENOENT: 'its folder does not exist: create the folder first, or pass opts.lockfilePath',
  ENOTDIR: 'a part of its path is not a folder',
  EACCES: 'permission denied: the folder must be writable to create the lock file, or pass opts.lockfilePath',
  EPERM: 'permission denied: the folder must be writable to create the lock file, or pass opts.lockfilePath',
  EROFS: 'the file system is read-only: pass opts.lockfilePath on a writable one',
  EISDIR: 'it is a directory: remove it, or pass opts.lockfilePath',
  ELOOP: 'it is a symbolic link, which is never followed for lock files: remove it, or pass opts.lockfilePath',
  EINVAL: 'it is not a regular file: remove it, or pass opts.lockfilePath',
  EMFILE: 'this process has too many open files: release locks you no longer need, or raise the limit',
  ENFILE: 'the system has too many open files',
  ENOLCK: 'the file system cannot lock files (NFS without a lock manager?): use a local file system, or pass opts.lockfilePath on one',
};

const errnoNames = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** The name of an errno ('ENOLCK'), also where libuv has none (Node 20 says "Unknown system error -37", Deno nothing). */
function errnoName(positive: number): string {
  let name: string | undefined;
  try {
    name = getSystemErrorName(-positive);
  } catch {
    // Deno throws for some numbers, or answers undefined: os.constants still knows them.
  }
  return name && !name.startsWith('Unknown') ? name : (errnoNames.get(positive) ?? name ?? `errno ${positive}`);
}

/** Advice for a lock file that exists but that this user may not open, if that is the case. */
function foreignLockFile(lockfilePath: string): string | undefined {
  let info: Stats | undefined;
  try {
    info = lstatSync(lockfilePath, { throwIfNoEntry: false });
    if (!info?.isFile()) return undefined;
    accessSync(lockfilePath, fsConstants.R_OK);
    return undefined; // readable: the cause is elsewhere (the folder)
  } catch {
    if (!info?.isFile()) return undefined; // the folder cannot be searched: its advice fits
  }
  const mode = (info.mode & 0o7777).toString(8).padStart(4, '0');
  return (
    `permission denied: the lock file exists and belongs to uid ${info.uid} (gid ${info.gid}) with mode ${mode}, which this user may not open. ` +
    'Every user sharing the lock must be able to read it: have its owner make it readable (chmod a+r), create it with opts.lockfileMode, or pass opts.lockfilePath'
  );
}

/** The lock a system error is about: the path asked for and the lock file the call failed on. */
export interface LockFileSubject {
  readonly path: string;
  readonly lockfilePath: string;
}

/** A system error about a lock file: Node's shape, plus the lock file beside the user's path. */
export interface LockFileError extends NodeJS.ErrnoException {
  code: string;
  errno: number;
  syscall: string;
  /** The path whose lock this was (as LockError's `path`). */
  path: string;
  /** The lock file the system call failed on. */
  lockfilePath: string;
}

/**
 * systemError builds the error for a system call on a lock file that failed with `errno`, which
 * is negative as in Node's own errors (and the addon's results). It has Node's shape (`code`,
 * `errno`, `syscall`), `path` the path asked for and `lockfilePath` the file the call failed
 * on, and a message that names both and says what to do.
 */
export function systemError(errno: number, syscall: string, { path, lockfilePath }: LockFileSubject, doing: string): LockFileError {
  if (!(errno < 0)) throw new RangeError(`lockedfile: internal: errno ${errno} from ${syscall} is not negative`);
  const code = errnoName(-errno);
  const advice = (code === 'EACCES' && foreignLockFile(lockfilePath)) || openAdvice[code] || 'see the code for the cause';
  const about = lockfilePath === `${path}.lock` ? '' : ` (the lock file of ${path})`;
  const error = new Error(`lockedfile: cannot ${doing} ${lockfilePath}${about}: ${advice} (${code}).`) as LockFileError;
  return Object.assign(error, { code, errno, syscall, path, lockfilePath });
}

/**
 * fileError builds, in Node's shape (`code`, `errno`, `syscall`, `path`), a system error this
 * package finds itself (a directory where a file should be, a FIFO, too many links): callers
 * handle it as they would Node's own. `message` follows "lockedfile: ".
 */
export function fileError(code: string, syscall: string, path: string, message: string): NodeJS.ErrnoException {
  const errno = (constants.errno as Record<string, number | undefined>)[code];
  return Object.assign(new Error(`lockedfile: ${message}`), { code, errno: errno === undefined ? undefined : -errno, syscall, path });
}

/** The negative errno of a Node system error, from its code (its own `errno` differs in sign between runtimes). */
export function errnoOf(error: unknown): number {
  const code = errorCode(error);
  const known = code === undefined ? undefined : (constants.errno as Record<string, number | undefined>)[code];
  if (known !== undefined) return -known;
  const errno = (error as NodeJS.ErrnoException | undefined)?.errno;
  return typeof errno === 'number' && errno !== 0 ? -Math.abs(errno) : -(constants.errno.EIO ?? 5);
}

/**
 * explained puts the path and the outcome into a Node fs error's message (Node's own often name
 * neither): "lockedfile: cannot <doing> <path>: <cause>. The file is unchanged."
 */
export function explained(error: unknown, doing: string, path: string): unknown {
  if (error instanceof Error && !error.message.startsWith('lockedfile:')) {
    error.message = `lockedfile: cannot ${doing} ${path}: ${error.message}. The file is unchanged.`;
  }
  return error;
}

/** errorCode is the `code` of a Node system error ('ENOENT', ...), if it has one. */
export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** abortReason is what a wait rejects with on abort: the signal's reason, as Node's own APIs do. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
