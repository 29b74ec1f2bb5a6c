// The lock's one promise under bad luck: a held lock stays held whatever the garbage collector,
// unawaited nested work or the order of events does.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { test } from 'node:test';
import { linkSync, symlinkSync, writeFileSync } from 'node:fs';
import { lock, lockAll, tryLock, updateFile, withLock } from 'lockedfile';
import { moduleFile, runNode, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

function nodeChild(t, code, args = []) {
  return spawnChild(t, process.execPath, [...args, moduleFile(code)]);
}

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: a held lock whose handle is dropped stays held through forced garbage collections`, async (t) => {
    const path = join(tempDir(t), 'a.json');
    const child = nodeChild(
      t,
      `import { lock } from ${JSON.stringify(entry)};
       process.on('warning', () => {});
       await lock(${JSON.stringify(path)}, { backend: '${backend}' });
       console.log('locked');
       for (let round = 0; round < 40; round++) {
         globalThis.gc(); new Array(1e5).fill({}); await new Promise((r) => setTimeout(r, 25));
       }
       console.log('done');
       setInterval(() => {}, 1000);`,
      ['--expose-gc'],
    );
    await child.next('locked');
    const done = child.next('done');
    let finished = false;
    done.then(() => (finished = true));
    while (!finished) {
      const stolen = await tryLock(path, { backend });
      stolen?.release();
      assert.equal(stolen, null, 'another process got the lock while its holder was collected but still running');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  test(`${backend}: a nested hold started inside withLock keeps the lock after withLock returns`, async (t) => {
    const path = join(tempDir(t), 'a.json');
    let nested;
    await withLock(
      path,
      () => {
        // Started, not awaited: it rides on the outer hold.
        lock(path, { backend }).then((handle) => (nested = handle));
      },
      { backend },
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(nested.released, false);
    const probe = `import { tryLock } from ${JSON.stringify(entry)};
       const h = await tryLock(${JSON.stringify(path)}, { backend: '${backend}' });
       console.log(h ? 'got' : 'busy'); h?.release();`;
    assert.equal((await runNode(probe)).stdout.trim(), 'busy');
    nested.release();
    assert.equal((await runNode(probe)).stdout.trim(), 'got');
  });
}

test('when the lock passes to the next waiter in this process, release is published before acquire', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const events = [];
  const onAcquire = (message) => message.path === path && events.push('acquire');
  const onRelease = (message) => message.path === path && events.push('release');
  subscribe('lockedfile:acquire', onAcquire);
  subscribe('lockedfile:release', onRelease);
  t.after(() => {
    unsubscribe('lockedfile:acquire', onAcquire);
    unsubscribe('lockedfile:release', onRelease);
  });
  const first = await lock(path);
  const second = lock(path);
  await new Promise((resolve) => setImmediate(resolve));
  first.release();
  (await second).release();
  assert.deepEqual(events, ['acquire', 'release', 'acquire', 'release']);
});

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: lock(link) and updateFile(link) and lock(real) are one lock: the lock of a symlink lives beside its target`, async (t) => {
    const dir = tempDir(t);
    const real = join(dir, 'real.json');
    const link = join(dir, 'link.json');
    writeFileSync(real, '0');
    symlinkSync(real, link);
    const probe = (path) => `import { tryLock } from ${JSON.stringify(entry)};
       const h = await tryLock(${JSON.stringify(path)}, { backend: '${backend}' });
       console.log(h ? 'got' : 'busy'); h?.release();`;
    const handle = await lock(link, { backend });
    assert.equal(handle.lockfilePath, `${real}.lock`);
    assert.equal((await runNode(probe(real))).stdout.trim(), 'busy');
    await assert.rejects(updateFile(link, (text) => `${text}1`, { backend, timeout: 100 }), { code: 'ELOCKTIMEOUT' });
    handle.release();
    const inner = await lock(real, { backend });
    assert.equal((await runNode(probe(link))).stdout.trim(), 'busy');
    inner.release();
    assert.equal(await updateFile(link, (text) => `${text}1`, { backend }), '01');
  });

}

test(`flock: lockAll with two paths naming one lock file (a hard link) takes it once instead of waiting on itself`, async (t) => {
  const dir = tempDir(t);
  const a = join(dir, 'a.json');
  writeFileSync(`${a}.lock`, '');
  linkSync(`${a}.lock`, join(dir, 'b.json.lock'));
  const set = await lockAll([a, join(dir, 'b.json')], { timeout: 2000 });
  assert.equal(set.handles.length, 1);
  set.release();
});
