// The kernel lock and threads: worker threads exclude each other like processes do, a worker
// that goes away takes its locks (and its waits) with it, and waits parked in the kernel cost
// neither libuv's thread pool nor a prompt exit, and never keep a lock nobody wanted.
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { LockTimeoutError, lock, lockSync, tryLock, tryLockSync } from 'lockedfile';
import { holdLock, holder, moduleFile, releaseAndWait, run, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { track, untilTestEnds, within } from './helpers/promises.js';
import { needs, testWhere } from './helpers/platform.js';
import { entry } from './helpers/package.js';

const test = testWhere(needs.flock, needs.flockCommand);

// Kernel-lock tests: the flock backend by name, whatever LOCKEDFILE_BACKEND says.
const FLOCK = { backend: 'flock' };
const workerScript = new URL('./helpers/worker.js', import.meta.url);

/** Polls `condition` until it is true; fails saying `what` after `ms`. */
async function eventually(condition, ms, what) {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`${what}: not so after ${ms} ms`);
    await delay(5);
  }
}

/**
 * How many flock requests process `pid` has parked in the kernel, blocked, on `lockfiles`:
 * the "->" lines of /proc/locks, which name the waiting process and the file's inode.
 */
function kernelWaits(pid, lockfiles) {
  const inodes = new Set(lockfiles.map((file) => statSync(file).ino));
  // Counted per lock file: the kernel may list one waiter more than once (under each lock it waits behind).
  const waited = new Set();
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const match = /^\d+: -> FLOCK\s+ADVISORY\s+\w+\s+(-?\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (match && Number(match[1]) === pid && inodes.has(Number(match[2]))) waited.add(Number(match[2]));
  }
  return waited.size;
}

/** A worker thread running helpers/worker.js: `ask(op, path, opts)` resolves with its answer. */
class LockWorker {
  constructor(t) {
    this.worker = new Worker(workerScript);
    this.answers = new Map();
    this.nextId = 1;
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.on('message', (message) => {
      const answer = this.answers.get(message.id);
      this.answers.delete(message.id);
      if (message.error) answer?.reject(Object.assign(new Error(message.error.message), message.error));
      else answer?.resolve(message);
    });
    this.worker.on('error', (error) => {
      for (const answer of this.answers.values()) answer.reject(error);
    });
    t.after(() => this.worker.terminate());
  }

  ask(op, path, opts) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.answers.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, path, opts });
    });
  }
}

test('a lock held in a worker thread excludes the main thread: tryLock gets null and lock() waits until the worker releases', async (t) => {
  const path = join(tempDir(t), 'state.json');
  const lockfile = `${path}.lock`;
  const worker = new LockWorker(t);
  assert.equal((await worker.ask('lock', path, FLOCK)).got, true);

  assert.equal(await tryLock(path, FLOCK), null, 'the main thread took a lock a worker holds');
  assert.equal(tryLockSync(path, FLOCK), null, 'tryLockSync in the main thread took a lock a worker holds');
  const waiting = lock(path, { ...FLOCK, signal: untilTestEnds(t) });
  const state = track(waiting);
  await eventually(() => kernelWaits(process.pid, [lockfile]) === 1, 2000, 'our lock() waits in the kernel');
  await delay(100);
  assert.equal(state.settled, false, 'lock() settled while the worker held the lock');

  await worker.ask('release', path);
  const handle = await within(waiting, 2000, "the main thread's lock() being granted after the worker released");
  assert.equal(handle.backend, 'flock');
  handle.release();
});

test('a lock held by the main thread excludes a worker thread: its tryLock gets null and its lock() waits until main releases', async (t) => {
  const path = join(tempDir(t), 'state.json');
  const lockfile = `${path}.lock`;
  const handle = await lock(path, FLOCK);
  const worker = new LockWorker(t);
  assert.equal((await worker.ask('tryLock', path, FLOCK)).got, false, 'a worker took a lock the main thread holds');

  const waiting = worker.ask('lock', path, FLOCK);
  const state = track(waiting);
  // The worker's wait is this process's: the kernel sees our pid waiting.
  await eventually(() => kernelWaits(process.pid, [lockfile]) === 1, 2000, "the worker's lock() waits in the kernel");
  await delay(100);
  assert.equal(state.settled, false, "the worker's lock() settled while the main thread held the lock");

  handle.release();
  assert.equal((await within(waiting, 2000, "the worker's lock() being granted after main released")).got, true);
  assert.equal(await tryLock(path, FLOCK), null, 'the main thread took the lock back from the worker');
  await worker.ask('release', path);
  const again = await tryLock(path, FLOCK);
  assert.ok(again, 'the lock stayed held after the worker released it');
  again.release();
});

test('a worker terminated while holding locks does not keep them: a waiting lock() in the main thread is granted', async (t) => {
  const dir = tempDir(t);
  const exclusive = join(dir, 'a.json');
  const shared = join(dir, 'b.json');
  const worker = new LockWorker(t);
  assert.equal((await worker.ask('lock', exclusive, FLOCK)).got, true);
  assert.equal((await worker.ask('lock', shared, { ...FLOCK, shared: true })).got, true);
  assert.equal(await tryLock(shared, FLOCK), null, 'an exclusive tryLock succeeded while a worker held the lock shared');

  const waiting = lock(exclusive, { ...FLOCK, signal: untilTestEnds(t) });
  const state = track(waiting);
  await eventually(() => kernelWaits(process.pid, [`${exclusive}.lock`]) === 1, 2000, 'our lock() waits in the kernel');
  await delay(50);
  assert.equal(state.settled, false);

  const terminatedAt = performance.now();
  await worker.worker.terminate();
  const handle = await within(waiting, 3000, "the main thread's lock() being granted after the holding worker was terminated");
  t.diagnostic(`granted ${(performance.now() - terminatedAt).toFixed(1)} ms after worker.terminate()`);
  const other = await tryLock(shared, FLOCK);
  assert.ok(other, 'the shared lock of the terminated worker is still held');
  other.release();
  handle.release();
});

for (const [how, end] of [
  ['terminated', (worker) => worker.worker.terminate()],
  ['that called process.exit()', (worker) => (worker.worker.postMessage({ op: 'exit' }), worker.exited)],
]) {
  test(`a worker ${how} while its lock() waits in the kernel leaves nothing held once the holder releases`, async (t) => {
    const path = join(tempDir(t), 'state.json');
    const lockfile = `${path}.lock`;
    const child = await holdLock(t, path, FLOCK);
    const worker = new LockWorker(t);
    const answer = track(worker.ask('lock', path, FLOCK));
    await eventually(() => kernelWaits(process.pid, [lockfile]) === 1, 2000, "the worker's lock() waits in the kernel");

    await within(end(worker), 3000, `the worker ending (${how})`);
    assert.equal(answer.settled, false, "the worker's lock() was answered");
    await releaseAndWait(child);
    // The dead worker's wait is granted by the kernel when the holder goes, and must let go of it
    // at once: another process that waits for the lock gets it.
    const started = performance.now();
    const next = holder(t, 'hold', { path, opts: { ...FLOCK, timeout: 5000 } });
    await next.next('locked');
    t.diagnostic(`another process (started then) got the lock ${(performance.now() - started).toFixed(1)} ms later`);
    await releaseAndWait(next);
    await eventually(() => kernelWaits(process.pid, [lockfile]) === 0, 2000, "the dead worker's wait has ended");
    const handle = await tryLock(path, FLOCK);
    assert.ok(handle, "the lock is held although its holder released and the worker that waited for it is gone");
    handle.release();
  });
}

test("64 waits parked in the kernel at once leave libuv's thread pool free: readFile and pbkdf2 finish quickly, and all 64 are granted", { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  // 64 distinct lock files: waits on one path queue in the process and make one kernel wait.
  const paths = Array.from({ length: 64 }, (_, index) => join(dir, `file-${index}.json`));
  const lockfiles = paths.map((path) => `${path}.lock`);
  const child = holder(t, 'holdMany', { paths, opts: FLOCK });
  assert.equal((await child.next('locked')).count, 64);

  const signal = untilTestEnds(t);
  setMaxListeners(64, signal);
  const waits = paths.map((path) => lock(path, { ...FLOCK, signal }));
  const states = waits.map(track);
  // Give the waits time to reach the kernel (asserted below, after the thread pool is measured).
  const deadline = performance.now() + 5000;
  while (kernelWaits(process.pid, lockfiles) < 64 && performance.now() < deadline) await delay(5);
  const parked = kernelWaits(process.pid, lockfiles);

  const data = join(dir, 'data.bin');
  writeFileSync(data, Buffer.alloc(64 * 1024, 7));
  const timed = async (work) => {
    const started = performance.now();
    await work();
    return performance.now() - started;
  };
  const started = performance.now();
  const times = await within(
    Promise.all([
      ...Array.from({ length: 8 }, () => timed(() => readFile(data))),
      ...Array.from({ length: 8 }, (_, index) => timed(() => promisify(pbkdf2)('secret', `salt-${index}`, 1000, 32, 'sha256'))),
    ]),
    5000,
    `readFile and pbkdf2 finishing while ${parked} waits are pending`,
  );
  const total = performance.now() - started;
  t.diagnostic(`8 readFile + 8 pbkdf2 in parallel: ${total.toFixed(1)} ms in all, slowest ${Math.max(...times).toFixed(1)} ms`);
  assert.ok(total < 2000, `the thread pool was starved: readFile and pbkdf2 took ${total.toFixed(1)} ms`);
  assert.equal(parked, 64, 'the 64 lock() calls were not all waiting in the kernel at once');
  assert.ok(
    states.every((state) => !state.settled),
    'a lock() settled while the other process held every lock',
  );
  assert.equal(kernelWaits(process.pid, lockfiles), 64, 'the 64 waits were pending throughout');

  await releaseAndWait(child);
  const handles = await within(Promise.all(waits), 5000, 'all 64 waits being granted');
  assert.equal(handles.length, 64);
  assert.ok(handles.every((handle) => handle.backend === 'flock' && !handle.released));
  // Really held: another process cannot take any of them.
  assert.equal((await run('flock', ['-n', lockfiles[0], 'true'])).code, 1);
  assert.equal((await run('flock', ['-n', lockfiles[63], 'true'])).code, 1);
  for (const handle of handles) handle.release();
});

test('a process with lock() waits parked in the kernel exits promptly, with code 0, when it calls process.exit(0)', { timeout: 20_000 }, async (t) => {
  const dir = tempDir(t);
  const paths = Array.from({ length: 8 }, (_, index) => join(dir, `file-${index}.json`));
  const lockfiles = paths.map((path) => `${path}.lock`);
  const owner = holder(t, 'holdMany', { paths, opts: FLOCK });
  await owner.next('locked');

  const code = `
    import { lock } from ${JSON.stringify(entry)};
    for (const path of JSON.parse(process.argv[2])) {
      lock(path, { backend: 'flock' }).then(() => console.log('granted'), (error) => console.log('failed ' + error.message));
    }
    process.stdin.once('data', () => process.exit(0));
    console.log('waiting');
  `;
  const child = spawnChild(t, process.execPath, [moduleFile(code), JSON.stringify(paths)]);
  await child.next('waiting');
  await eventually(() => kernelWaits(child.pid, lockfiles) === 8, 5000, "the child's 8 waits are parked in the kernel");

  const askedAt = performance.now();
  child.send('exit');
  const result = await within(child.exited, 10_000, 'the child exiting');
  const ms = performance.now() - askedAt;
  t.diagnostic(`exited ${ms.toFixed(1)} ms after being told to`);
  assert.deepEqual(result, { code: 0, signal: null }, child.stderr);
  assert.ok(ms < 3000, `process.exit(0) took ${ms.toFixed(1)} ms with waits pending`);
  assert.deepEqual(child.lines, [], 'the child said more than "waiting"');
  assert.equal(child.stderr, '');
  await releaseAndWait(owner);
});

// How a child gives up its only wait; `ready` is printed once the wait has started.
const giveUps = {
  'a timeout': `
    console.log('ready');
    try { await lock(path, { backend: 'flock', timeout: 1500 }); console.log('granted'); }
    catch (error) { console.log(JSON.stringify({ event: 'gave up', name: error.name })); }`,
  'an abort': `
    const controller = new AbortController();
    process.once('SIGUSR2', () => controller.abort());
    const pending = lock(path, { backend: 'flock', signal: controller.signal });
    console.log('ready');
    try { await pending; console.log('granted'); }
    catch (error) { console.log(JSON.stringify({ event: 'gave up', name: error.name })); }`,
  'a lockSync timeout': `
    console.log('ready');
    try { lockSync(path, { backend: 'flock', timeout: 1500 }); console.log('granted'); }
    catch (error) { console.log(JSON.stringify({ event: 'gave up', name: error.name })); }`,
};

for (const [how, body] of Object.entries(giveUps)) {
  test(`a process whose only wait was given up by ${how} exits by itself: the abandoned kernel wait does not keep it alive`, { timeout: 20_000 }, async (t) => {
    const path = join(tempDir(t), 'state.json');
    const lockfile = `${path}.lock`;
    const owner = await holdLock(t, path, FLOCK);
    const code = `
      import { lock, lockSync } from ${JSON.stringify(entry)};
      const path = process.argv[2];
      ${body}`;
    const child = spawnChild(t, process.execPath, [moduleFile(code), path]);
    await child.next('ready');
    await eventually(() => kernelWaits(child.pid, [lockfile]) === 1, 1200, "the child's wait is parked in the kernel");
    if (how === 'an abort') child.signal('SIGUSR2');

    const gaveUp = await child.next('gave up');
    const gaveUpAt = performance.now();
    assert.equal(gaveUp.name, how === 'an abort' ? 'AbortError' : 'LockTimeoutError');
    const result = await within(child.exited, 10_000, 'the child exiting by itself');
    const ms = performance.now() - gaveUpAt;
    t.diagnostic(`exited ${ms.toFixed(1)} ms after giving up`);
    assert.deepEqual(result, { code: 0, signal: null }, child.stderr);
    assert.ok(ms < 3000, `the child took ${ms.toFixed(1)} ms to exit after giving up its wait`);
    assert.ok(owner.proc.exitCode === null, 'the holder still holds the lock throughout');
    await releaseAndWait(owner);
  });
}

// How this process gives up a wait on a lock another process holds.
const abandons = {
  'a timeout': async (path) => {
    await assert.rejects(lock(path, { ...FLOCK, timeout: 100 }), LockTimeoutError);
  },
  'an abort': async (path) => {
    const controller = new AbortController();
    const pending = lock(path, { ...FLOCK, signal: controller.signal });
    await eventually(() => kernelWaits(process.pid, [`${path}.lock`]) === 1, 2000, 'our lock() waits in the kernel');
    controller.abort();
    await assert.rejects(pending, (error) => error.name === 'AbortError');
  },
  'a lockSync timeout': async (path) => {
    assert.throws(() => lockSync(path, { ...FLOCK, timeout: 100 }), LockTimeoutError);
  },
};

for (const [how, abandon] of Object.entries(abandons)) {
  test(`a wait given up by ${how} never keeps the lock: its late grant is dropped and the next process gets it`, { timeout: 20_000 }, async (t) => {
    const path = join(tempDir(t), 'state.json');
    const lockfile = `${path}.lock`;
    const owner = await holdLock(t, path, FLOCK);
    await abandon(path);
    // The kernel wait cannot be cancelled: it is still there, and the kernel will grant it.
    assert.equal(kernelWaits(process.pid, [lockfile]), 1, 'the abandoned wait is no longer parked in the kernel');

    await releaseAndWait(owner);
    await eventually(() => kernelWaits(process.pid, [lockfile]) === 0, 2000, 'the abandoned wait has been granted');
    const started = performance.now();
    const next = holder(t, 'hold', { path, opts: { ...FLOCK, timeout: 5000 } });
    await next.next('locked');
    t.diagnostic(`another process (started then) got the lock ${(performance.now() - started).toFixed(1)} ms later`);
    assert.equal(await tryLock(path, FLOCK), null, 'we took the lock while the other process held it');
    await releaseAndWait(next);
    const handle = await tryLock(path, FLOCK);
    assert.ok(handle, 'the lock is still held after every holder released');
    handle.release();
  });
}

test('a timeout and a kernel grant landing in the same event-loop turn leave the lock ours or free, never lost', { timeout: 30_000 }, async (t) => {
  const outcomes = { granted: 0, 'timed out': 0 };
  for (let round = 0; round < 4; round++) {
    const path = join(tempDir(t), `state-${round}.json`);
    const lockfile = `${path}.lock`;
    // It lets go on its own 300 ms after taking the lock, while this thread blocks below.
    const owner = holder(t, 'hold', { path, opts: FLOCK, releaseAfterMs: 300 });
    await owner.next('locked');
    const askedAt = performance.now();
    const outcome = lock(path, { ...FLOCK, timeout: 250 }).then(
      (handle) => ({ handle }),
      (error) => ({ error }),
    );
    await eventually(() => kernelWaits(process.pid, [lockfile]) === 1, 2000, 'our lock() waits in the kernel');
    // Block this thread while the holder lets go and the kernel grants our wait, until the
    // timeout is due too: both are then handled in one turn of the event loop.
    while (kernelWaits(process.pid, [lockfile]) > 0 || performance.now() - askedAt < 300) {
      if (performance.now() - askedAt > 10_000) assert.fail('the kernel did not grant our wait within 10 s of the release');
    }
    const { handle, error } = await outcome;
    if (handle) {
      outcomes.granted += 1;
      assert.equal((await run('flock', ['-n', lockfile, 'true'])).code, 1, 'a granted lock() does not hold the lock');
      handle.release();
    } else {
      outcomes['timed out'] += 1;
      assert.ok(error instanceof LockTimeoutError, `unexpected ${error}`);
    }
    // At once, without waiting for anything: nothing holds the lock.
    const peer = await run('flock', ['-n', lockfile, 'true']);
    assert.equal(peer.code, 0, `the lock stayed held after the race (${handle ? 'granted' : 'timed out'})`);
    await owner.exited;
  }
  t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
});

// Run in a child process, since what they guard against ends the whole process.

test('in a process where only worker threads lock, waits they gave up are granted safely after every worker has exited', { timeout: 60_000 }, async (t) => {
  const path = join(tempDir(t), 'a.json');
  const holder = spawnChild(t, 'flock', [`${path}.lock`, 'sh', '-c', 'echo held; read line']);
  await holder.next('held');
  const child = spawnChild(t, process.execPath, [moduleFile(`
    import { Worker } from 'node:worker_threads';
    for (let i = 0; i < 3; i++) {
      const worker = new Worker(\`import { lock } from ${JSON.stringify(entry)};
        for (let j = 0; j < 5; j++) await lock(${JSON.stringify(path)}, { backend: 'flock', timeout: 1 }).catch(() => {});\`, { eval: true });
      await new Promise((resolve) => worker.once('exit', resolve));
    }
    console.log('workers gone');
    process.stdin.once('data', () => setTimeout(() => { console.log('survived'); process.exit(0); }, 300));`)]);
  await child.next('workers gone');
  holder.send(); // the kernel now grants the waits the workers left behind
  await holder.exited;
  child.send();
  await child.next('survived');
  assert.deepEqual(await child.exited, { code: 0, signal: null }, child.stderr);
});

test('worker threads terminated at random moments while they take and release a lock never abort the process', { timeout: 60_000 }, async (t) => {
  const path = join(tempDir(t), 'a.json');
  const { code, signal, stdout, stderr } = await run(process.execPath, [moduleFile(`
    import { Worker } from 'node:worker_threads';
    import { tryLockSync } from ${JSON.stringify(entry)};
    tryLockSync(${JSON.stringify(`${path}.main`)}).release(); // the addon stays loaded whatever the workers do
    const loop = \`import { lock } from ${JSON.stringify(entry)};
      for (;;) (await lock(${JSON.stringify(path)}, { backend: 'flock' })).release();\`;
    const steady = new Worker(loop, { eval: true });
    for (let i = 0; i < 200; i++) {
      const worker = new Worker(loop, { eval: true });
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
      await worker.terminate();
    }
    await steady.terminate();
    console.log('survived 200 terminations');`)]);
  assert.deepEqual({ code, signal, stdout }, { code: 0, signal: null, stdout: 'survived 200 terminations\n' }, stderr.slice(0, 2000));
});
