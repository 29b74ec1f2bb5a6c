import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LockError, LockTimeoutError, lock, lockSync, tryLock } from 'lockedfile';
import { holdLock, releaseAndWait } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: a timeout rejects with LockTimeoutError naming the path, the wait and the holder`, async (t) => {
    const path = join(tempDir(t), 'a.json');
    const child = await holdLock(t, path, { backend });
    const started = performance.now();
    const error = await lock(path, { backend, timeout: 300 }).then(
      () => assert.fail('the lock was granted while held'),
      (caught) => caught,
    );
    const waited = performance.now() - started;
    t.diagnostic(`rejected after ${waited.toFixed(1)} ms (timeout 300 ms)`);
    assert.ok(error instanceof LockTimeoutError && error instanceof LockError, 'one error family');
    assert.equal(error.code, 'ELOCKTIMEOUT');
    assert.equal(error.path, path);
    assert.equal(error.lockfilePath, `${path}.lock`);
    assert.ok(waited >= 295 && waited < 3000, `waited ${waited} ms`);
    assert.ok(error.waitedMs >= 295);
    assert.ok(error.message.includes(path));
    assert.match(error.message, /timed out after \d+ ms/);
    assert.match(error.message, new RegExp(`held by pid ${child.pid} \\(\\S+ holder\\.js hold .*\\) on host \\S+ (running )?since \\d\\d:\\d\\d:\\d\\d`));
    assert.match(error.holder, new RegExp(`^pid ${child.pid} `));
    // Giving up left nothing behind: once the holder goes, the lock is free.
    await releaseAndWait(child);
    const handle = await tryLock(path, { backend });
    assert.ok(handle);
    handle.release();
  });

  test(`${backend}: lockSync honours opts.timeout`, async (t) => {
    const path = join(tempDir(t), 'a.json');
    const child = await holdLock(t, path, { backend });
    const started = performance.now();
    assert.throws(() => lockSync(path, { backend, timeout: 200 }), (error) => error instanceof LockTimeoutError && error.path === path);
    const waited = performance.now() - started;
    assert.ok(waited >= 195 && waited < 3000, `waited ${waited} ms`);
    await releaseAndWait(child);
    lockSync(path, { backend, timeout: 0 }).release();
  });

  test(`${backend}: abort rejects with the signal's reason and leaves nothing held`, async (t) => {
    const path = join(tempDir(t), 'a.json');
    const child = await holdLock(t, path, { backend });
    const controller = new AbortController();
    const pending = lock(path, { backend, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    await assert.rejects(pending, (error) => error.name === 'AbortError');
    assert.ok(performance.now() - started < 2000);
    const reason = new Error('shutting down');
    await assert.rejects(lock(path, { backend, signal: AbortSignal.abort(reason) }), (error) => error === reason);
    await assert.rejects(lock(path, { backend, signal: AbortSignal.timeout(50) }), (error) => error.name === 'TimeoutError');
    await releaseAndWait(child);
    const handle = await tryLock(path, { backend });
    assert.ok(handle, 'the aborted waits left the lock free');
    handle.release();
  });
}

test('timeout 0 fails at once when held, and succeeds at once when free', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const child = await holdLock(t, path);
  await assert.rejects(lock(path, { timeout: 0 }), LockTimeoutError);
  await releaseAndWait(child);
  const handle = await lock(path, { timeout: 0 });
  handle.release();
});

test('an already-aborted signal rejects before anything is opened', async (t) => {
  const path = join(tempDir(t), 'a.json');
  await assert.rejects(lock(path, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.equal(existsSync(`${path}.lock`), false);
});

test('queued waiters behind a timed-out one still get the lock', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const child = await holdLock(t, path);
  const impatient = lock(path, { timeout: 100 });
  const patient = lock(path, { timeout: 20_000 });
  await assert.rejects(impatient, LockTimeoutError);
  await releaseAndWait(child);
  const handle = await patient;
  assert.equal(handle.released, false);
  handle.release();
});

test('a lockedfile:wait subscriber that aborts the request ends it at once with the signal\'s reason', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const child = await holdLock(t, path);
  const controller = new AbortController();
  const reason = new Error('contended: give up');
  const onWait = () => controller.abort(reason);
  subscribe('lockedfile:wait', onWait);
  t.after(() => unsubscribe('lockedfile:wait', onWait));
  const started = performance.now();
  const outcome = await Promise.race([
    lock(path, { signal: controller.signal }).then((handle) => (handle.release(), 'granted')),
    new Promise((resolve) => setTimeout(resolve, 3000, 'still waiting')),
  ]).catch((error) => error);
  assert.equal(outcome, reason, `after ${(performance.now() - started).toFixed(0)} ms`);
  await releaseAndWait(child);
  const handle = await tryLock(path);
  assert.ok(handle, 'nothing stayed held or queued');
  handle.release();
});
