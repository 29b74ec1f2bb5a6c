import assert from 'node:assert/strict';
import { existsSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { LockTimeoutError, getMetrics, lockAll, tryLock } from 'lockedfile';
import { holdLock, holder, releaseAndWait, run } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';

/** Whether another process can take the lock on `path` right now (flock(1) on the lock file). */
async function freeForOthers(path) {
  const { code } = await run('flock', ['-n', `${path}.lock`, 'true']);
  return code === 0;
}

/** Whether this process can take the lock on `path` right now; releases it again at once. */
async function freeHere(path) {
  const handle = await tryLock(path);
  handle?.release();
  return handle !== null;
}

/**
 * Whether this process gets the lock on `path` within `ms`. Once the other holder is gone, a
 * kernel wait that lockAll abandoned may still be granted the lock, and drops it at once.
 */
async function eventuallyFreeHere(path, ms = 3000) {
  const until = performance.now() + ms;
  while (!(await freeHere(path))) {
    if (performance.now() > until) return false;
    await delay(5);
  }
  return true;
}

/** Resolves as `promise` does, or rejects if it takes longer than `ms`. */
async function within(ms, promise, what) {
  const bound = new AbortController();
  try {
    return await Promise.race([
      promise,
      delay(ms, undefined, { signal: bound.signal }).then(() => {
        throw new Error(`${what} did not finish within ${ms} ms`);
      }),
    ]);
  } finally {
    bound.abort();
  }
}

/**
 * A folder with a.json and c.json, real/b.json, and a symlink 0link -> real. In canonical order
 * (real lock-file paths) the locks are a, c, real/b; spelled through the link, b would sort first.
 */
function layout(t) {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, '0link'));
  return { dir, a: join(dir, 'a.json'), b: join(dir, 'real', 'b.json'), bViaLink: join(dir, '0link', 'b.json'), c: join(dir, 'c.json') };
}

test('lockAll takes every lock and returns one handle that lists them in the order of their real lock-file paths', async (t) => {
  const { a, b, bViaLink, c } = layout(t);
  const all = await lockAll([c, bViaLink, a]);
  assert.deepEqual(
    all.handles.map((handle) => realpathSync(handle.lockfilePath)),
    [`${a}.lock`, `${c}.lock`, `${b}.lock`],
  );
  assert.equal(all.released, false);
  for (const path of [a, b, c]) assert.equal(await freeForOthers(path), false, `${path} is held`);
  all.release();
  assert.equal(all.released, true);
  assert.ok(all.handles.every((handle) => handle.released));
  for (const path of [a, b, c]) {
    assert.equal(await freeForOthers(path), true, `${path} is free for other processes`);
    assert.equal(await freeHere(path), true, `${path} is free in this process`);
    assert.ok(existsSync(`${path}.lock`), `${path}.lock is never unlinked`);
  }
  all.release(); // idempotent
});

test('lockAll takes a path given twice, or spelled several ways, only once', async (t) => {
  const { a, b, bViaLink } = layout(t);
  // A bounded timeout: taking the same lock twice would wait on itself.
  const all = await lockAll([a, bViaLink, a, relative(process.cwd(), a), pathToFileURL(a), b], { timeout: 3000 });
  assert.deepEqual(
    all.handles.map((handle) => realpathSync(handle.lockfilePath)),
    [`${a}.lock`, `${b}.lock`],
  );
  assert.equal(await freeForOthers(a), false);
  assert.equal(await freeForOthers(b), false);
  all.release();
  assert.equal(await freeHere(a), true);
  assert.equal(await freeHere(b), true);
});

test('two processes that lockAll one set in opposite orders, one through a symlinked folder, never deadlock nor hold it at once', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'zlink'));
  const [a, b, c] = ['a', 'b', 'c'].map((name) => join(dir, 'real', `${name}.json`));
  const marker = join(dir, 'inside');
  const times = 200;
  const forward = holder(t, 'lockAll', { paths: [c, b, a], times, marker });
  // The other way round, with a and c spelled through zlink: sorted by spelling, that is b, a, c
  // against the first process's a, b, c, so only the real paths give both one order.
  const backward = holder(t, 'lockAll', { paths: [join(dir, 'zlink', 'a.json'), b, join(dir, 'zlink', 'c.json')], times, marker });
  const started = performance.now();
  const reports = await within(20_000, Promise.all([forward.next('done'), backward.next('done')]), `${times} rounds of lockAll in each of two processes`);
  t.diagnostic(`${2 * times} lockAll rounds in ${(performance.now() - started).toFixed(0)} ms`);
  assert.deepEqual(reports.map((report) => [report.rounds, report.overlaps]), [[times, 0], [times, 0]]);
  await Promise.all([forward.exited, backward.exited]);
  for (const path of [a, b, c]) assert.equal(await freeHere(path), true);
});

test('a timeout part-way rejects with LockTimeoutError and releases the locks lockAll had taken', async (t) => {
  const { a, b, c } = layout(t);
  // In canonical order b (real/b.json) comes last; hold c, the middle one, in another process.
  const child = await holdLock(t, c);
  const heldBefore = getMetrics().held;
  const outcome = lockAll([b, c, a], { timeout: 1000 }).then(
    () => assert.fail('lockAll succeeded while a lock was held elsewhere'),
    (error) => error,
  );
  await new Promise(setImmediate);
  assert.equal(getMetrics().held, heldBefore + 1, 'a is taken while c is awaited');
  const error = await outcome;
  assert.ok(error instanceof LockTimeoutError, `got ${error?.stack ?? error}`);
  assert.equal(error.path, c);
  assert.equal(getMetrics().held, heldBefore);
  assert.equal(await freeHere(a), true, 'a was released');
  assert.equal(await freeForOthers(a), true, 'a was released in the kernel');
  assert.equal(await freeHere(b), true, 'b was never taken');
  assert.equal(await freeHere(c), false, 'c is still the other process\'s');
  await releaseAndWait(child);
  assert.equal(await eventuallyFreeHere(c), true);
});

test('an abort part-way rejects with the signal\'s reason and releases the locks lockAll had taken', async (t) => {
  const { a, b, c } = layout(t);
  const child = await holdLock(t, c);
  const controller = new AbortController();
  const reason = new Error('shutting down');
  const outcome = lockAll([b, c, a], { signal: controller.signal }).then(
    () => assert.fail('lockAll succeeded while a lock was held elsewhere'),
    (error) => error,
  );
  await new Promise(setImmediate);
  assert.equal(await freeForOthers(a), false, 'a is taken while c is awaited');
  assert.equal(await freeForOthers(b), true, 'b is not taken before c');
  controller.abort(reason);
  assert.equal(await outcome, reason);
  assert.equal(await freeForOthers(a), true, 'a was released');
  assert.equal(await freeHere(a), true);
  assert.equal(await freeHere(b), true);
  await releaseAndWait(child);
  assert.equal(await eventuallyFreeHere(c), true);
  // Already aborted: rejects with the reason and takes nothing.
  const before = new Error('too late');
  assert.equal(await lockAll([a, b], { signal: AbortSignal.abort(before) }).catch((error) => error), before);
  assert.equal(await freeHere(a), true);
});

test('lockAll rejects bad input with a TypeError that says what it wants, taking nothing', async (t) => {
  const { a } = layout(t);
  const notAnArray = (error) => error instanceof TypeError && /lockAll\(paths\): paths must be a non-empty array/.test(error.message);
  await assert.rejects(lockAll([]), notAnArray);
  await assert.rejects(lockAll('x'), notAnArray);
  await assert.rejects(lockAll(a), notAnArray);
  await assert.rejects(lockAll(), notAnArray);
  await assert.rejects(lockAll([a, '']), (error) => error instanceof TypeError && /path must be a non-empty string/.test(error.message));
  await assert.rejects(lockAll([a, 42]), TypeError);
  await assert.rejects(lockAll([a], null), (error) => error instanceof TypeError && /opts must be an object/.test(error.message));
  assert.equal(await freeForOthers(a), true, 'no lock was taken before the bad path was found');
  assert.equal(await freeHere(a), true);
});
