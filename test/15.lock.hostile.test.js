// The lock's one promise under bad luck: a held lock stays held whatever the garbage collector,
// unawaited nested work or the order of events does.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lock, tryLock, withLock } from 'lockedfile';
import { runNode, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function nodeChild(t, code, args = []) {
  return spawnChild(t, process.execPath, [...args, '--input-type=module', '-e', code]);
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
