import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { getMetrics, lock, resetMetrics, withLock } from 'lockedfile';
import { holdLock, runNode } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

test('getMetrics counts acquisitions, releases, contention, timeouts and aborts, with wait and hold times', async (t) => {
  const path = join(tempDir(t), 'a.json');
  resetMetrics();
  const before = getMetrics();
  assert.deepEqual(
    { acquired: before.acquired, released: before.released, contended: before.contended, timeouts: before.timeouts, aborted: before.aborted },
    { acquired: before.held, released: 0, contended: 0, timeouts: 0, aborted: 0 },
  );
  await withLock(path, () => new Promise((resolve) => setTimeout(resolve, 50)));
  const child = await holdLock(t, path);
  await assert.rejects(lock(path, { timeout: 50 }));
  await assert.rejects(lock(path, { signal: AbortSignal.timeout(50) }));
  const contended = lock(path);
  setTimeout(() => child.send('release'), 100);
  const handle = await contended;
  assert.equal(getMetrics().held, before.held + 1);
  handle.release();
  await child.exited;

  const metrics = getMetrics();
  assert.equal(metrics.acquired - before.acquired, 2);
  assert.equal(metrics.released, 2);
  assert.equal(metrics.contended, 1);
  assert.equal(metrics.timeouts, 1);
  assert.equal(metrics.aborted, 1);
  assert.equal(metrics.held, before.held);
  assert.equal(metrics.waitMs.count, 2);
  assert.equal(metrics.holdMs.count, 2);
  assert.ok(metrics.waitMs.max >= 90, `the contended wait (~100 ms) is the max: ${metrics.waitMs.max}`);
  assert.ok(metrics.holdMs.max >= 45, `the 50 ms hold is the max: ${metrics.holdMs.max}`);
  for (const summary of [metrics.waitMs, metrics.holdMs]) {
    assert.ok(summary.p50 <= summary.p99 && summary.p99 <= summary.max, JSON.stringify(summary));
  }
});

test('events are published on lockedfile:* diagnostics channels', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const seen = [];
  const names = ['acquire', 'wait', 'release', 'timeout', 'abort'];
  const listeners = names.map((name) => [`lockedfile:${name}`, (message) => seen.push({ name, ...message })]);
  for (const [channel, listener] of listeners) subscribe(channel, listener);
  t.after(() => {
    for (const [channel, listener] of listeners) unsubscribe(channel, listener);
  });

  const child = await holdLock(t, path);
  await assert.rejects(lock(path, { timeout: 50 }));
  await assert.rejects(lock(path, { signal: AbortSignal.timeout(50) }));
  const contended = lock(path);
  child.send('release');
  (await contended).release();

  const byName = (name) => seen.filter((event) => event.name === name);
  assert.equal(byName('timeout').length, 1);
  assert.equal(byName('abort').length, 1);
  assert.equal(byName('acquire').length, 1);
  assert.equal(byName('release').length, 1);
  assert.equal(byName('wait').length, 3);
  for (const event of seen) {
    assert.equal(event.path, path);
    assert.equal(event.lockfilePath, `${path}.lock`);
    assert.equal(event.pid, process.pid);
    assert.equal(event.backend, 'flock');
  }
  assert.match(byName('wait')[0].holder, new RegExp(`^pid ${child.pid} `));
  assert.match(byName('timeout')[0].holder, new RegExp(`^pid ${child.pid} `));
  assert.ok(byName('timeout')[0].waitMs >= 45);
  assert.equal(typeof byName('release')[0].holdMs, 'number');
});

test('a wait behind a holder in this same process publishes lockedfile:wait, naming this process', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const waits = [];
  const listener = (message) => waits.push(message);
  subscribe('lockedfile:wait', listener);
  t.after(() => unsubscribe('lockedfile:wait', listener));
  const first = await lock(path);
  const second = lock(path);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(waits.length, 1, 'the second request waits inside this process and says so');
  assert.equal(waits[0].path, path);
  assert.match(waits[0].holder, new RegExp(`^pid ${process.pid} `));
  first.release();
  (await second).release();
  assert.equal(waits.length, 1);
});

test('getMetrics(path) gives the figures of the locks on one path, apart from the others', async (t) => {
  const dir = tempDir(t);
  const [a, b] = [join(dir, 'a.json'), join(dir, 'b.json')];
  resetMetrics();
  assert.equal(getMetrics(a).acquired, 0);
  for (let i = 0; i < 3; i++) (await lock(a)).release();
  const held = await lock(b);
  const queued = lock(b, { timeout: 30 }).catch((error) => error.code);
  assert.equal(await queued, 'ELOCKTIMEOUT');
  const onA = getMetrics(a);
  const onB = getMetrics(pathToFileURL(b));
  assert.deepEqual([onA.acquired, onA.released, onA.held, onA.timeouts, onA.waitMs.count, onA.holdMs.count], [3, 3, 0, 0, 3, 3]);
  assert.deepEqual([onB.acquired, onB.released, onB.held, onB.timeouts], [1, 0, 1, 1]);
  assert.equal(getMetrics(relative(process.cwd(), a)).acquired, 3, 'a relative spelling is the same path');
  assert.equal(getMetrics().acquired, onA.acquired + onB.acquired, 'the process figures are the sum (nothing else was held here)');
  held.release();
  assert.equal(getMetrics(b).held, 0);
  resetMetrics();
  assert.equal(getMetrics(a).acquired, 0, 'reset starts the path figures afresh too');
  assert.equal(getMetrics(join(dir, 'never.json')).acquired, 0);
});

test('getMetrics(path): a nested hold counts under its own spelling, and a held path keeps its figures however many others come after', async (t) => {
  const dir = tempDir(t);
  const target = join(dir, 'a.json');
  const link = join(dir, 'link.json');
  symlinkSync(target, link);
  resetMetrics();
  await withLock(link, async () => (await lock(target)).release());
  assert.deepEqual(pick(getMetrics(link)), { acquired: 1, released: 1, held: 0 });
  assert.deepEqual(pick(getMetrics(target)), { acquired: 1, released: 1, held: 0 });

  const kept = await lock(join(dir, 'kept.json'));
  for (let i = 0; i < 1100; i++) (await lock(join(dir, `other-${i}.json`))).release();
  assert.deepEqual(pick(getMetrics(join(dir, 'kept.json'))), { acquired: 1, released: 0, held: 1 });
  kept.release();
  assert.deepEqual(pick(getMetrics(join(dir, 'kept.json'))), { acquired: 1, released: 1, held: 0 });
  assert.equal(getMetrics(join(dir, 'other-0.json')).acquired, 0, 'the least recently used free path was forgotten');
});

function pick({ acquired, released, held }) {
  return { acquired, released, held };
}

test('NODE_DEBUG=lockedfile prints acquire, wait, timeout and release lines with pid, path and ms', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const held = await lock(path);
  const code = `
    import { lock } from ${JSON.stringify(entry)};
    await lock(${JSON.stringify(path)}, { timeout: 100 }).catch(() => {});
    const handle = await lock(${JSON.stringify(path)});
    handle.release();`;
  const finished = runNode(code, { env: { ...process.env, NODE_DEBUG: 'lockedfile' } });
  setTimeout(() => held.release(), 1000);
  const { code: exitCode, stderr } = await finished;
  assert.equal(exitCode, 0, stderr);
  const lines = stderr.trim().split('\n');
  const line = (event) => lines.find((text) => text.includes(`: ${event} `)) ?? assert.fail(`no ${event} line in:\n${stderr}`);
  const pid = /^LOCKEDFILE (\d+):/.exec(lines[0])?.[1];
  assert.ok(pid, stderr);
  assert.match(line('wait'), new RegExp(`wait pid=${pid} path=${path} holder=pid ${process.pid} `));
  assert.match(line('timeout'), new RegExp(`timeout pid=${pid} path=${path} waited=\\d+\\.\\d\\dms`));
  assert.match(line('acquire'), new RegExp(`acquire pid=${pid} path=${path} waited=\\d+\\.\\d\\dms`));
  assert.match(line('release'), new RegExp(`release pid=${pid} path=${path} held=\\d+\\.\\d\\dms`));
});
