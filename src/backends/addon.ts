import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { LockError } from '../common/errors.js';

/**
 * The addon's calls (see native/addon.cc). Numbers in, numbers out: no throwing across. Every
 * result is >= 0 on success (a descriptor, an id, a count, or 0) and -errno on failure, as
 * Node's own errno values are; the wait callback's errno too.
 */
export interface FlockAddon {
  /** A descriptor, or -errno; with `create` false a missing file is -ENOENT. */
  open(path: string, mode: number, ident: Float64Array, create?: boolean): number;
  flock(fd: number, op: number): number;
  close(fd: number): number;
  /** Bytes read from the start of the file into `buffer`, or -errno. */
  readRecord(fd: number, buffer: Uint8Array): number;
  writeRecord(fd: number, bytes: Uint8Array): number;
  /** The descriptor is the wait's from then on; `done(0, fd)` hands back the one that holds the lock, `done(-errno)` says why not. */
  wait(fd: number, op: number, done: (errno: number, fd: number) => void): number;
  abandon(id: number): boolean;
  /** The descriptor that holds the lock (maybe another than `fd`), or -errno. */
  waitSync(fd: number, op: number, timeoutMs: number): number;
  readonly LOCK_SH: number;
  readonly LOCK_EX: number;
  readonly LOCK_NB: number;
  readonly LOCK_UN: number;
}

let loaded: FlockAddon | undefined;
let loadFailure: Error | undefined;

/**
 * loadAddon returns the flock addon, loading it once (a prebuild from `prebuilds/`, or a local
 * build from `build/`). It throws, every time it is asked, an ELOCKBACKEND LockError that says
 * why it could not be loaded and how to fix it, naming the lock asked for.
 */
export function loadAddon(path = '', lockfilePath?: string): FlockAddon {
  if (loaded) return loaded;
  if (!loadFailure) {
    try {
      const requireHere = createRequire(import.meta.url);
      const packageRoot = fileURLToPath(new URL('../..', import.meta.url));
      const addon = (requireHere('node-gyp-build') as (dir: string) => Partial<FlockAddon>)(packageRoot);
      if (typeof addon.open !== 'function') throw new Error('this platform has no flock(2)');
      loaded = addon as FlockAddon;
      return loaded;
    } catch (cause) {
      loadFailure = cause as Error;
    }
  }
  // Deno refuses what its permission flags do not allow with a NotCapable error: nothing to rebuild.
  const advice =
    loadFailure.name === 'NotCapable'
      ? 'Deno must be allowed to load it and to lock: run with --allow-read, --allow-write, --allow-ffi, --allow-env and --allow-sys. '
      : 'Rebuild it with `npm rebuild lockedfile` (this needs python3, make and a C++ compiler), ' +
        'or allow the install script of lockedfile if your package manager skipped it. ';
  throw new LockError(
    'ELOCKBACKEND',
    path,
    `cannot lock ${path || 'files'}: the flock addon could not be loaded: ${loadFailure.message.trim()}. ${advice}` +
      "To use pid files instead everywhere, pass { backend: 'pidfile' } or set LOCKEDFILE_BACKEND=pidfile " +
      'in every process that shares these locks.',
    lockfilePath,
    { cause: loadFailure },
  );
}
