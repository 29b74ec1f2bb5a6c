// One-call load-modify-save under the lock: the whole read, change and atomic write happen while
// the file's exclusive lock is held, so concurrent updaters never lose each other's changes.
import { readFile } from 'node:fs/promises';
import { type WriteOptions, removeTempFiles, writeFileAtomic, writeTarget } from './atomic.js';
import { withLock } from './lock.js';
import type { LockOptions } from './options.js';
import { toPath } from './options.js';

/** Options for updateFile: the lock's (timeout, signal, backend, ...) and the write's (fsync, mode). */
export type UpdateOptions = Omit<LockOptions, 'shared'> & WriteOptions;

/** readText returns a file's text, or undefined when it does not exist. */
export async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * updateFile holds the exclusive lock on `path` (through a symlink: on its target) while it
 * reads the file, calls `fn` with its text (undefined if there is no file) and writes what `fn`
 * returns atomically. It resolves with the text the file then holds. When `fn` returns undefined
 * or the same text, nothing is written. When `fn` throws, nothing is written and the error is
 * rethrown; the lock is released either way.
 */
export async function updateFile(
  path: string | URL,
  fn: (text: string | undefined) => string | undefined | Promise<string | undefined>,
  opts: UpdateOptions = {},
): Promise<string | undefined> {
  if (typeof fn !== 'function') throw new TypeError('lockedfile: updateFile(path, fn): fn must be a function.');
  const target = await writeTarget(toPath(path));
  return withLock(
    target,
    async () => {
      await removeTempFiles(target);
      const text = await readText(target);
      const next = await fn(text);
      if (next === undefined || next === text) return text;
      if (typeof next !== 'string') {
        throw new TypeError(`lockedfile: updateFile(${target}): fn must return a string or undefined, got ${typeof next}. The file is unchanged.`);
      }
      await writeFileAtomic(target, next, opts);
      return next;
    },
    { ...opts, shared: false },
  );
}
