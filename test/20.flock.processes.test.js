import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { tryLock, tryLockSync, lock } from 'lockedfile';
import { holdLock, holder, moduleFile, releaseAndWait, run, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { track } from './helpers/promises.js';
import { needs, testWhere } from './helpers/platform.js';
import { entry } from './helpers/package.js';

const test = testWhere(needs.flock, needs.flockCommand);

// These tests are about the kernel lock: they ask for the flock backend by name, so that a
// LOCKEDFILE_BACKEND in the environment cannot turn them into pid-file tests.
const FLOCK = { backend: 'flock' };
/** The package's entry point, for child processes to import. */

/** Whether `pid` is still running. */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if (error.code === 'ESRCH') return false;
    throw error;
  }
}

/** The files process `pid` has open, by path (Linux /proc). */
function openFiles(pid) {
  const files = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      files.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed while we looked
    }
  }
  return files;
}

test('a lock held by another process blocks ours until it is released', async (t) => {
  const path = join(tempDir(t), 'state.json');
  const child = await holdLock(t, path);
  assert.equal(await tryLock(path), null);
  const waiting = lock(path);
  await releaseAndWait(child);
  const handle = await waiting;
  handle.release();
});

test('four processes incrementing one counter under the lock lose no update', async (t) => {
  const dir = tempDir(t);
  const counter = join(dir, 'counter');
  writeFileSync(counter, '0');
  const children = Array.from({ length: 4 }, () => holder(t, 'increment', { path: counter, counter, times: 50 }));
  const reports = await Promise.all(children.map((child) => child.next('done')));
  assert.equal(Number(readFileSync(counter, 'utf8')), 200);
  assert.deepEqual(reports.map((report) => report.overlaps), [0, 0, 0, 0]);
});

test("a SIGKILLed holder's lock goes to our waiting lock() within 1000 ms of the kill", { timeout: 20_000 }, async (t) => {
  const path = join(tempDir(t), 'state.json');
  const child = await holdLock(t, path, FLOCK);
  assert.equal(await tryLock(path, FLOCK), null);
  const waiting = lock(path, FLOCK);
  const state = track(waiting);
  // The wait is really parked in the kernel: nothing grants it while the holder lives.
  await delay(100);
  assert.equal(state.settled, false, 'lock() settled while the holder was alive');

  const killedAt = performance.now();
  child.proc.kill('SIGKILL');
  const handle = await waiting;
  const ms = performance.now() - killedAt;
  t.diagnostic(`granted ${ms.toFixed(1)} ms after SIGKILL`);
  assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' });
  assert.ok(ms < 1000, `the lock took ${ms.toFixed(1)} ms to be granted after the holder was killed`);
  assert.equal(handle.backend, 'flock');
  assert.equal(handle.shared, false);
  // And it is ours now, exclusively: another process cannot take it.
  assert.equal((await run('flock', ['-n', handle.lockfilePath, 'true'])).code, 1);
  handle.release();
});

test('two processes hold a shared lock at once; an exclusive lock waits until both have released', { timeout: 20_000 }, async (t) => {
  const path = join(tempDir(t), 'state.json');
  // A timeout in the children: if shared locks excluded each other the second one would fail
  // (and this test with it) rather than hang.
  const opts = { ...FLOCK, shared: true, timeout: 5000 };
  const children = [holder(t, 'hold', { path, opts }), holder(t, 'hold', { path, opts })];
  const locked = await Promise.all(children.map((child) => child.next('locked')));
  assert.deepEqual(locked.map((message) => message.shared), [true, true]);

  assert.equal(await tryLock(path, FLOCK), null, 'an exclusive tryLock succeeded while two processes held the lock shared');
  assert.equal(tryLockSync(path, FLOCK), null, 'an exclusive tryLockSync succeeded while two processes held the lock shared');
  // A third shared holder (us) joins them.
  const reader = await tryLock(path, { ...FLOCK, shared: true });
  assert.ok(reader, 'a shared tryLock was refused while only shared holders held the lock');
  assert.equal(reader.shared, true);
  reader.release();

  const waiting = lock(path, FLOCK);
  const state = track(waiting);
  await releaseAndWait(children[0]);
  await delay(100);
  assert.equal(state.settled, false, 'the exclusive lock was granted while one process still held it shared');
  await releaseAndWait(children[1]);
  const handle = await waiting;
  assert.equal(handle.shared, false);
  handle.release();
});

test('a process holding the lock exclusively makes our shared tryLock return null', { timeout: 20_000 }, async (t) => {
  const path = join(tempDir(t), 'state.json');
  const child = await holdLock(t, path, FLOCK);
  assert.equal(await tryLock(path, { ...FLOCK, shared: true }), null);
  assert.equal(tryLockSync(path, { ...FLOCK, shared: true }), null);
  await releaseAndWait(child);
  const handle = await tryLock(path, { ...FLOCK, shared: true });
  assert.ok(handle, 'a shared tryLock was refused after the exclusive holder released');
  assert.equal(handle.shared, true);
  handle.release();
});

test('a child spawned while we hold the lock does not inherit the lock file, and another process takes the lock as soon as we release', { timeout: 20_000 }, async (t) => {
  const path = join(tempDir(t), 'state.json');
  const handle = await lock(path, FLOCK);
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => sleeper.kill('SIGKILL'));
  await once(sleeper, 'spawn'); // uv_spawn returns after the exec
  assert.ok(!openFiles(sleeper.pid).includes(handle.lockfilePath), 'the lock file is open in a child spawned while the lock was held');

  assert.equal((await run('flock', ['-n', handle.lockfilePath, 'true'])).code, 1, 'flock(1) took the lock while we held it');
  handle.release();
  const peer = await run('flock', ['-n', handle.lockfilePath, 'true']);
  assert.equal(peer.code, 0, `flock(1) could not take the lock after our release: ${peer.stderr}`);
  assert.ok(alive(sleeper.pid), 'the spawned child should still be running');
});

test('a process SIGKILLed while holding the lock leaves it free although the child it spawned lives on', { timeout: 20_000 }, async (t) => {
  const path = join(tempDir(t), 'state.json');
  // A lockedfile user that takes the lock, starts a long-lived child and never releases.
  const code = `
    import { spawn } from 'node:child_process';
    import { lock } from ${JSON.stringify(entry)};
    const handle = await lock(process.argv[2], { backend: 'flock' });
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    sleeper.on('spawn', () => console.log(JSON.stringify({ event: 'locked', sleeper: sleeper.pid })));
    setInterval(() => {}, 1000);
  `;
  const child = spawnChild(t, process.execPath, [moduleFile(code), path]);
  const { sleeper } = await child.next('locked');
  t.after(() => {
    if (alive(sleeper)) process.kill(sleeper, 'SIGKILL');
  });
  assert.equal(await tryLock(path, FLOCK), null);

  await child.kill('SIGKILL');
  assert.ok(alive(sleeper), "the holder's child should outlive it");
  assert.ok(!openFiles(sleeper).includes(`${path}.lock`), "the lock file is open in the holder's child");
  const handle = await tryLock(path, FLOCK);
  assert.ok(handle, "the lock stayed held after its holder was killed: the holder's child kept it");
  handle.release();
});
