// One-call load-modify-save under the lock: the whole read, change and atomic write happen while
// the file's exclusive lock is held, so concurrent updaters never lose each other's changes.
import { constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { dirname } from 'node:path';
import { type WriteOptions, removeTempFiles, replaceFile, syncFolder, writeTarget } from './atomic.js';
import { LockError, errorCode, explained } from './errors.js';
import { checkJsonValue, editJsonc, parseJsonc } from './jsonc.js';
import { withLock } from './lock.js';
import { type LockOptions, toPath } from './options.js';

/** Options for updateFile: the lock's (timeout, signal, backend, lockfileMode, ...) and the write's (fsync, mode). */
export type UpdateOptions = Omit<LockOptions, 'shared'> & WriteOptions;

/** readText returns a file's text, or undefined when it does not exist. */
export async function readText(file: string, flag: string | number = 'r'): Promise<string | undefined> {
  try {
    return await readFile(file, { encoding: 'utf8', flag });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** Opening the resolved target must not follow a link planted there while the update waited. */
const NO_FOLLOW = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

/** The lock's share of updateFile's options: `mode` and `fsync` belong to the write. */
function lockOptions(opts: UpdateOptions): LockOptions {
  const { mode: _mode, fsync: _fsync, ...lock } = opts as UpdateOptions & { default?: unknown };
  delete (lock as { default?: unknown }).default;
  return { ...lock, shared: false };
}

function replacedByLink(file: string, target: string): LockError {
  return new LockError(
    'ELOCKSYMLINK',
    file,
    `will not update ${file}: ${target} became a symbolic link while this update waited for its lock, ` +
      'and links met after a path is resolved are never followed. Nothing was read or written; find out who replaced the file.',
  );
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
  const file = toPath(path);
  const target = await writeTarget(file).catch((error: unknown) => {
    throw explained(error, 'update', file);
  });
  let wrote = false;
  const result = await withLock(
    target,
    async () => {
      await removeTempFiles(target);
      const text = await readText(target, NO_FOLLOW).catch((error: unknown) => {
        if (errorCode(error) === 'ELOOP') throw replacedByLink(file, target);
        throw explained(error, 'update', file);
      });
      const next = await fn(text);
      if (next === undefined || next === text) return text;
      if (typeof next !== 'string') {
        throw new TypeError(`lockedfile: updateFile(${target}): fn must return a string or undefined, got ${typeof next}. The file is unchanged.`);
      }
      // The target is resolved and locked: no second realpath on the way to the rename.
      await replaceFile(target, next, opts, file, true);
      wrote = true;
      return next;
    },
    lockOptions(opts),
  );
  // The folder's fsync makes the rename durable; it needs no lock, so the next writer need not
  // wait for it. This update is reported done only after it.
  if (wrote && opts.fsync !== false) await syncFolder(dirname(target));
  return result;
}

/** Options for updateJsonc and readJsonc: `default` stands in for a missing file. */
export interface JsoncOptions<T> extends UpdateOptions {
  default?: T;
}

function missing(file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`lockedfile: ${file} does not exist. Pass opts.default to start it with a value.`), {
    code: 'ENOENT',
    errno: -2,
    syscall: 'open',
    path: file,
  });
}

/** The value of a JSONC file's text, or a copy of `fallback` when there is no file (else ENOENT). */
function parseOrDefault<T>(text: string | undefined, file: string, fallback: T | undefined): T {
  if (text !== undefined) return parseJsonc(text, file) as T;
  if (fallback === undefined) throw missing(file);
  return structuredClone(fallback);
}

/** readJsonc reads and parses a JSONC file (comments, trailing commas); `opts.default` if it does not exist. */
export async function readJsonc<T>(path: string | URL, opts: { default?: T } = {}): Promise<T> {
  const file = toPath(path);
  return parseOrDefault(await readText(file), file, opts.default);
}

/**
 * updateJsonc is updateFile for JSONC: under the lock it parses the file, gives `fn` a draft to
 * change (or to replace, by returning a new value), and writes the result back as edits to the
 * old text, so every comment and all unchanged formatting stay as they were. A missing file is
 * created from `opts.default` as 2-space JSON. It resolves with the value the file then holds.
 */
export async function updateJsonc<T>(path: string | URL, fn: (draft: T) => T | void | Promise<T | void>, opts: JsoncOptions<T> = {}): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError('lockedfile: updateJsonc(path, fn): fn must be a function.');
  const file = toPath(path);
  let value: T | undefined;
  await updateFile(
    file,
    async (text) => {
      const current = parseOrDefault(text, file, opts.default);
      const draft = structuredClone(current);
      const returned = await fn(draft);
      const next = returned === undefined ? draft : returned;
      checkJsonValue(next, file);
      value = next;
      if (text === undefined) return `${JSON.stringify(next, null, 2)}\n`;
      if (isDeepStrictEqual(current, next)) return undefined;
      const edited = editJsonc(text, current, next);
      // The edits must say exactly the new value; anything else would be silent corruption.
      if (!isDeepStrictEqual(parseJsonc(edited, file), JSON.parse(JSON.stringify(next)))) {
        throw new Error(`lockedfile: internal: the edits to ${file} do not give the new value; the file is unchanged. Please report this with the file.`);
      }
      return edited;
    },
    opts,
  );
  return value as T;
}
