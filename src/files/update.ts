// One-call load-modify-save under the lock: the whole read, change and atomic write happen while
// the file's exclusive lock is held, so concurrent updaters never lose each other's changes.
import { AsyncResource } from 'node:async_hooks';
import { dirname } from 'node:path';
import { type WriteOptions, nextTurn, removeTempFiles, replaceFile, syncFolder, syncsData, syncsFolder, writeTarget } from './atomic.js';
import { LockError, errorCode, explained, fileError } from '../common/errors.js';
import { JsoncParseError, type Parsed, checkJsonValue, cloneJson, editJsonc, parseJsonc, parseJsoncForEdit } from './jsonc.js';
import { heldLocks, holdsLocks, runHolding, withLock } from '../lock/api.js';
import type { LockOptions } from '../lock/options.js';
import { toPath } from '../common/paths.js';
import { READ_NO_FOLLOW, decodeText, readRegularFile, readTextFile } from './read.js';
import { setRecent } from './recent.js';

/** Options for updateFile: the lock's (timeout, signal, backend, lockfileMode, ...) and the write's (fsync, mode). */
export type UpdateOptions = Omit<LockOptions, 'shared'> & WriteOptions;

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

/** Targets whose folder this process has swept for killed writers' temp files. */
const swept = new Set<string>();

/**
 * Sweeps the temp files killed writers left beside `target`, on this process's first update of
 * it: a readdir per update would cost more the more files share the folder. A writer killed
 * later leaves its temp file to the next process that updates the file.
 */
async function sweepOnce(target: string): Promise<void> {
  if (swept.has(target)) return;
  if (swept.size >= 10_000) swept.clear(); // a bound, for processes that update very many files
  swept.add(target);
  await removeTempFiles(target);
}

type UpdateFn = (text: string | undefined) => string | undefined | Promise<string | undefined>;

/** One updateFile call in a batch: its function, run in its own async context, and its promise. */
interface Member {
  fn: UpdateFn;
  enter: <T>(step: () => T) => T;
  resolve: (text: string | undefined) => void;
  reject: (error: unknown) => void;
  result?: string | undefined;
  error?: { cause: unknown };
  settled?: boolean;
}

/** Resolves or rejects each member not settled yet. */
function settle(members: Member[]): void {
  for (const member of members) {
    if (member.settled) continue;
    member.settled = true;
    if (member.error) member.reject(member.error.cause);
    else member.resolve(member.result);
  }
}

/**
 * Batches still taking members (updates of one file from this process that will share one lock,
 * one read and one write), by target and the options that must match to share one. A batch
 * leaves the map when its lock is held: from then on it has read the file.
 */
const batches = new Map<string, Member[]>();

/**
 * Calls wait alone where they cannot share: with their own timeout or signal (a shared wait
 * would not keep them), or from inside withLock (the batch's functions run under its lock, and
 * one waiting on a lock its caller holds would wait for ever).
 */
function batchKey(target: string, opts: UpdateOptions): string | undefined {
  if (opts.timeout !== undefined || opts.signal !== undefined || holdsLocks()) return undefined;
  const { backend, lockfilePath, lockfileMode, retry, stale, fsync, mode } = opts;
  return JSON.stringify([target, backend, lockfilePath, lockfileMode, retry, stale, fsync, mode]);
}

/**
 * updateFile holds the exclusive lock on `path` (through a symlink: on its target) while it
 * reads the file, calls `fn` with its text (undefined if there is no file) and writes what `fn`
 * returns atomically. It resolves with the text the file then holds. When `fn` returns undefined
 * or the same text, nothing is written. When `fn` throws, nothing is written and the error is
 * rethrown; the lock is released either way.
 *
 * Calls on one file from this process while one waits for its lock are applied together (group
 * commit): one read, each `fn` in the order called on the result of the ones before, one write
 * and one fsync. Each call resolves with the text after its own `fn`, and only once that is
 * written; a `fn` that throws fails its own call alone, and its change is not written.
 */
export async function updateFile(path: string | URL, fn: UpdateFn, opts: UpdateOptions = {}): Promise<string | undefined> {
  if (typeof fn !== 'function') throw new TypeError('lockedfile: updateFile(path, fn): fn must be a function.');
  syncsData(opts); // a bad fsync option is refused before the lock is taken
  const file = toPath(path);
  const target = await writeTarget(file).catch((error: unknown) => {
    throw explained(error, 'update', file);
  });
  const key = batchKey(target, opts);
  return new Promise((resolve, reject) => {
    // The caller's async context (its AsyncLocalStorage stores), for its fn to run in.
    const member: Member = { fn, enter: AsyncResource.bind((step) => step()), resolve, reject };
    const open = key === undefined ? undefined : batches.get(key);
    if (open) {
      open.push(member);
      return;
    }
    const batch = [member];
    if (key !== undefined) batches.set(key, batch);
    void runBatch(batch, key, target, file, opts);
  });
}

/**
 * The bytes this process last wrote to each target, and their text: when the next update reads
 * the same bytes (nobody wrote since), it gets that same string back, not decoded again, and
 * updateJsonc finds its own parse of it at once (jsonc.ts). Few are kept: they hold big files.
 */
const lastWritten = new Map<string, { bytes: Buffer; text: string }>();


/** Resolves on the next turn of the event loop: what a fn that has not finished by then is waiting for. */
const stalled = () => new Promise<'stalled'>((resolve) => setImmediate(resolve, 'stalled'));

async function runBatch(batch: Member[], key: string | undefined, target: string, file: string, opts: UpdateOptions): Promise<void> {
  let wrote = false; // text was written whose folder is not fsynced yet
  try {
    await withLock(
      target,
      async () => {
        if (key !== undefined && batches.get(key) === batch) batches.delete(key);
        await sweepOnce(target);
        let original: string | undefined;
        try {
          const bytes = readRegularFile(target, READ_NO_FOLLOW);
          const known = bytes && lastWritten.get(target);
          original = bytes === undefined ? undefined : known?.bytes.equals(bytes) ? known.text : decodeText(bytes, target);
        } catch (error) {
          if (errorCode(error) === 'ELOOP') throw replacedByLink(file, target);
          throw explained(error, 'update', file);
        }
        let text = original;
        let onDisk = original;
        /** Writes what the members so far made. */
        const flush = async () => {
          if (text !== onDisk) {
            const bytes = Buffer.from(text!);
            // The target is resolved and locked: no second realpath on the way to the rename.
            await replaceFile(target, bytes, opts, file, true);
            setRecent(lastWritten, target, { bytes, text: text! }, 8);
            onDisk = text;
            wrote = true;
          }
        };
        const held = heldLocks();
        for (const [index, member] of batch.entries()) {
          // In its caller's context, holding this lock: a nested lock of the file is granted.
          const outcome = Promise.resolve()
            .then(() => member.enter(() => runHolding(held, () => member.fn(text))))
            .then((next) => ({ next }), (error: unknown) => ({ error }));
          // A fn still busy on the next turn may be waiting for a call before it in this batch
          // (its promise): those are written and settled first, so that it never waits for ever.
          if ((await Promise.race([outcome, stalled()])) === 'stalled' && index > 0) {
            await flush();
            if (wrote && syncsFolder(opts)) await syncFolder(dirname(target));
            wrote = false;
            settle(batch.slice(0, index));
          }
          const result = await outcome;
          if ('error' in result) member.error = { cause: result.error };
          else if (result.next !== undefined && typeof result.next !== 'string') {
            member.error = {
              cause: new TypeError(`lockedfile: updateFile(${target}): fn must return a string or undefined, got ${typeof result.next}. The file is unchanged.`),
            };
          } else {
            if (result.next !== undefined) text = result.next;
            member.result = text;
          }
        }
        await flush();
      },
      lockOptions(opts),
    );
    // The folder's fsync makes the rename durable; it needs no lock, so the next writer need not
    // wait for it. These updates are reported done only after it.
    if (wrote && syncsFolder(opts)) await syncFolder(dirname(target));
  } catch (error) {
    for (const member of batch) if (!member.settled) member.error ??= { cause: error };
  } finally {
    if (key !== undefined && batches.get(key) === batch) batches.delete(key);
  }
  await nextTurn(); // with the lock released: see nextTurn
  settle(batch);
}

/** Options for updateJsonc and readJsonc: `default` stands in for a missing file. */
export interface JsoncOptions<T> extends UpdateOptions {
  default?: T;
}

function missing(file: string): NodeJS.ErrnoException {
  return fileError('ENOENT', 'open', file, `${file} does not exist. Pass opts.default to start it with a value.`);
}

/**
 * The parse of a JSONC file's text (undefined when there is no file) and its value, or a copy of
 * `fallback` when the file is missing or holds no value (empty, or only comments).
 */
function parseOrDefault<T>(text: string | undefined, file: string, fallback: T | undefined, parse = parseJsonc): { parsed?: Parsed; value: T } {
  const parsed = text === undefined ? undefined : parse(text, file);
  if (parsed?.root !== undefined) return { parsed, value: parsed.value as T };
  if (fallback !== undefined) return { parsed, value: structuredClone(fallback) };
  if (parsed) throw new JsoncParseError(file, 1, 1, 'the file holds no value; pass opts.default to start it with one');
  throw missing(file);
}

/** readJsonc reads and parses a JSONC file (comments, trailing commas); `opts.default` if it does not exist or is empty. */
export async function readJsonc<T>(path: string | URL, opts: { default?: T } = {}): Promise<T> {
  const file = toPath(path);
  if (typeof opts !== 'object' || opts === null) throw new TypeError('lockedfile: opts must be an object.');
  let text: string | undefined;
  try {
    text = readTextFile(file);
  } catch (error) {
    throw explained(error, 'read', file);
  }
  await nextTurn(); // the read was synchronous: see nextTurn
  return parseOrDefault(text, file, opts.default).value;
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
      const { parsed, value: current } = parseOrDefault(text, file, opts.default, parseJsoncForEdit);
      // The file's value stays as read, for the edit to compare against; fn gets a copy (the
      // default is a copy already).
      const draft = parsed?.root === undefined ? current : cloneJson(current);
      const returned = await fn(draft);
      const next = returned === undefined ? draft : returned;
      value = next;
      if (text === undefined) {
        checkJsonValue(next, file);
        return `${JSON.stringify(next, null, 2)}\n`;
      }
      // Only what changed is checked for what JSON cannot hold (inside editJsonc): a number the
      // file already holds beyond JavaScript's range (1e400) stays as it is written.
      const edited = editJsonc(text, parsed!, next, file);
      return edited === text ? undefined : edited;
    },
    opts,
  );
  return value as T;
}
