// One lock across runtimes: Node, Bun and Deno processes load the same addon and take the same
// kernel lock, so they exclude one another and flock(1), and share a JSONC file without losing an
// update. Each test pairs this runtime with another; it is skipped, saying so, where that one is
// not installed (npm run test:runtimes installs them all before it runs the suite on each).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { lock, readJsonc, tryLock } from 'lockedfile';
import { holdLock, releaseAndWait, run, runNode } from './helpers/children.js';
import { needs, testWhere } from './helpers/platform.js';
import { otherRuntimes, thisRuntime } from './helpers/runtimes.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

const FLOCK = { backend: 'flock' };

/** Runs ES module `code` on a runtime: `argv` is its command (runtimes.js), or this one's. */
const runModule = (argv, code) => runNode(code, { runtime: argv, timeout: 60_000 });

/** In a process of `argv`'s runtime: whether tryLock gets the lock on `path` now. */
async function triesLock(argv, path) {
  const result = await runModule(argv, `
    import { tryLock } from ${JSON.stringify(entry)};
    const handle = await tryLock(${JSON.stringify(path)}, { backend: 'flock' });
    console.log(handle ? 'got' : 'busy');
    handle?.release();`);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

for (const other of otherRuntimes) {
  const testBoth = testWhere(needs.flock, needs.flockCommand, other.missing);
  const pair = `${thisRuntime} and ${other.name}`;

  testBoth(`${pair}: a lock held in either excludes the other and flock(1), until it is released`, { timeout: 60_000 }, async (t) => {
    const path = join(tempDir(t), 'state.json');
    const held = await holdLock(t, path, FLOCK, { runtime: other.argv });
    assert.equal(await tryLock(path, FLOCK), null, `${other.name} holds the lock; ${thisRuntime} got it too`);
    assert.equal((await run('flock', ['-n', `${path}.lock`, 'true'])).code, 1, `${other.name} holds the lock; flock(1) got it too`);
    await releaseAndWait(held);
    const handle = await tryLock(path, FLOCK);
    assert.ok(handle, `${other.name} released the lock; ${thisRuntime} could not take it`);
    assert.equal(await triesLock(other.argv, path), 'busy', `${thisRuntime} holds the lock; ${other.name} got it too`);
    handle.release();
    assert.equal(await triesLock(other.argv, path), 'got', `${thisRuntime} released the lock; ${other.name} could not take it`);
  });

  testBoth(`${pair}: the kernel frees the lock of a SIGKILLed ${other.name} holder, and ${thisRuntime}'s waiter gets it`, { timeout: 60_000 }, async (t) => {
    const path = join(tempDir(t), 'state.json');
    const held = await holdLock(t, path, FLOCK, { runtime: other.argv });
    const waiting = lock(path, { ...FLOCK, timeout: 10_000 });
    const early = await Promise.race([waiting.then(() => 'granted'), delay(200, 'waiting')]);
    assert.equal(early, 'waiting', `${thisRuntime} got the lock while ${other.name} held it`);
    await held.kill('SIGKILL');
    (await waiting).release();
  });

  testBoth(`${pair}: 2 processes of each x 50 updateJsonc appends to one file end with all 200, every comment in place`, { timeout: 120_000 }, async (t) => {
    const file = join(tempDir(t), 'human.jsonc');
    writeFileSync(file, '// What the personas know.\n{\n  "concepts": [], // learned so far\n}\n');
    const code = `
      import { updateJsonc } from ${JSON.stringify(entry)};
      for (let i = 0; i < 50; i++) {
        await updateJsonc(${JSON.stringify(file)}, (draft) => { draft.concepts.push(process.pid + '-' + i); }, { fsync: false });
      }`;
    const results = await Promise.all([undefined, undefined, other.argv, other.argv].map((argv) => runModule(argv, code)));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const { concepts } = await readJsonc(file);
    assert.equal(concepts.length, 200, `${concepts.length} appends kept of 200`);
    assert.equal(new Set(concepts).size, 200, `${new Set(concepts).size} distinct appends of 200`);
    const text = readFileSync(file, 'utf8');
    for (const comment of ['// What the personas know.', '// learned so far']) assert.ok(text.includes(comment), comment);
  });
}
