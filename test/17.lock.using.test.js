// `await using h = await lock(p)` and `using h = lockSync(p)`, run for real by runtimes that
// have explicit resource management: the lock is held for the block and released when it ends,
// however it ends. Elsewhere (Node 22 and earlier) the blocks do not parse, and these are skipped.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { tryLock } from 'lockedfile';
import { run } from './helpers/children.js';
import { needs, testWhere } from './helpers/platform.js';
import { tempDir } from './helpers/temp.js';

function parses(source) {
  try {
    new Function(source);
    return true;
  } catch {
    return false;
  }
}

const noUsing = parses('return async () => { await using held = null; };') ? undefined : `this runtime (${process.release?.name ?? 'node'} ${process.version}) has no \`await using\``;
const testUsing = testWhere(needs.flock, needs.flockCommand, noUsing);
const blocks = () => import('./fixtures/using/blocks.mjs');

/** Whether flock(1), another process, could take the lock on `path` now. */
async function freeForFlock(path) {
  return (await run('flock', ['-n', `${path}.lock`, 'true'])).code === 0;
}

testUsing('await using h = await lock(p) holds the lock for the block and releases it when the block ends', async (t) => {
  const { awaitUsingLock } = await blocks();
  const path = join(tempDir(t), 'state.json');
  let seen;
  await awaitUsingLock(path, async (handle) => {
    seen = handle;
    assert.equal(handle.released, false);
    assert.equal(await freeForFlock(path), false, 'flock(1) took the lock inside the block');
    assert.equal(await tryLock(path), null);
  });
  assert.equal(seen.released, true);
  assert.equal(await freeForFlock(path), true, 'the lock outlived the block');
});

testUsing('await using releases the lock when the block throws, and the error goes on unchanged', async (t) => {
  const { awaitUsingLock } = await blocks();
  const path = join(tempDir(t), 'state.json');
  const thrown = new Error('inside the block');
  await assert.rejects(awaitUsingLock(path, async () => {
    throw thrown;
  }), (error) => error === thrown);
  assert.equal(await freeForFlock(path), true, 'the lock outlived the block that threw');
});

testUsing('await using with lockAll holds every lock for the block; with a busy tryLock the handle is null and nothing is released', async (t) => {
  const { awaitUsingLockAll, awaitUsingTryLock } = await blocks();
  const dir = tempDir(t);
  const paths = [join(dir, 'a.json'), join(dir, 'b.json')];
  await awaitUsingLockAll(paths, async () => {
    for (const path of paths) assert.equal(await freeForFlock(path), false, `${path} is free inside the block`);
    await awaitUsingTryLock(paths[0], async (handle) => assert.equal(handle, null));
    assert.equal(await freeForFlock(paths[0]), false, 'the busy tryLock block let the lock go');
  });
  for (const path of paths) assert.equal(await freeForFlock(path), true, `${path} outlived the block`);
});

testUsing('using h = lockSync(p) holds the lock for the block and releases it when the block ends, or throws', async (t) => {
  const { usingLockSync } = await blocks();
  const path = join(tempDir(t), 'state.json');
  let seen;
  usingLockSync(path, (handle) => {
    seen = handle;
    assert.equal(handle.released, false);
    assert.equal(spawnSync('flock', ['-n', `${path}.lock`, 'true']).status, 1, 'flock(1) took the lock inside the block');
  });
  assert.equal(seen.released, true);
  assert.equal(await freeForFlock(path), true, 'the lock outlived the block');
  const thrown = new Error('inside the block');
  assert.throws(() => usingLockSync(path, () => {
    throw thrown;
  }), (error) => error === thrown);
  assert.equal(await freeForFlock(path), true, 'the lock outlived the block that threw');
});
