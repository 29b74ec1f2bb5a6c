// Group commit: concurrent updates of one file from one process share one lock, one read and one
// write, yet each call behaves as if it ran alone, one after another, in the order it was made.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readJsonc, tryLock, updateFile, updateJsonc, withLock } from 'lockedfile';
import { runCountingSyncs } from './helpers/children.js';
import { needs, testWhere } from './helpers/platform.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

test('32 concurrent updateJsonc calls: each sees the ones before it, resolves with its own result, and none is lost; a throwing fn fails its own call only', async (t) => {
  const file = join(tempDir(t), 'a.jsonc');
  writeFileSync(file, '// counts\n{ "n": 0, "log": [] }\n');
  const calls = Array.from({ length: 32 }, (_, index) =>
    updateJsonc(file, (draft) => {
      draft.n += 1;
      draft.log.push(index);
      if (index === 9) throw new Error('the tenth fails');
    }),
  );
  const settled = await Promise.allSettled(calls);
  assert.equal(settled[9].status, 'rejected');
  assert.equal(settled[9].reason.message, 'the tenth fails');
  const values = settled.filter((result) => result.status === 'fulfilled').map((result) => result.value);
  assert.deepEqual(values.map((value) => value.n), Array.from({ length: 31 }, (_, index) => index + 1));
  const expectedLog = Array.from({ length: 32 }, (_, index) => index).filter((index) => index !== 9);
  assert.deepEqual(values.at(-1).log, expectedLog);
  assert.deepEqual(await readJsonc(file), { n: 31, log: expectedLog });
  assert.ok(readFileSync(file, 'utf8').startsWith('// counts\n'));
});

testWhere(needs.strace)('32 concurrent updates are written with far fewer fsyncs than 32 (one per batch)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.json');
  writeFileSync(file, '0');
  const result = await runCountingSyncs(`
    import { updateFile } from ${JSON.stringify(entry)};
    const results = await Promise.all(Array.from({ length: 32 }, () => updateFile(${JSON.stringify(file)}, (text) => String(Number(text) + 1))));
    console.log(results.join(','));`, dir);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), Array.from({ length: 32 }, (_, index) => index + 1).join(','));
  const { syncs } = result;
  t.diagnostic(`${syncs} fsyncs for 32 updates`);
  assert.ok(syncs >= 2 && syncs <= 8, `${syncs} fsyncs`);
  assert.equal(readFileSync(file, 'utf8'), '32');
});

test('a batched fn runs in its caller\'s async context, and may lock its own file again', async (t) => {
  const file = join(tempDir(t), 'a.json');
  writeFileSync(file, '');
  const request = new AsyncLocalStorage();
  const seen = [];
  await Promise.all(
    ['first', 'second', 'third'].map((id) =>
      request.run(id, () =>
        updateFile(file, async (text) => {
          seen.push(request.getStore());
          // Inside fn the lock is held: a nested lock of the same file is granted at once.
          await withLock(file, () => {});
          return `${text}${id};`;
        }),
      ),
    ),
  );
  assert.deepEqual(seen, ['first', 'second', 'third']);
  assert.equal(readFileSync(file, 'utf8'), 'first;second;third;');
});

test('calls with a timeout or a signal, and calls from inside withLock, run alone and still see each other', async (t) => {
  const file = join(tempDir(t), 'a.json');
  const other = join(tempDir(t), 'b.json');
  writeFileSync(file, '0');
  const add = (text) => String(Number(text) + 1);
  await Promise.all([
    updateFile(file, add, { timeout: 5000 }),
    updateFile(file, add, { signal: new AbortController().signal }),
    withLock(other, () => updateFile(file, add)),
    updateFile(file, add),
  ]);
  assert.equal(readFileSync(file, 'utf8'), '4');
  const handle = await tryLock(file);
  assert.ok(handle, 'the lock was left held');
  handle.release();
});

test('a fn that returns something other than a string fails its own call only; the others are written', async (t) => {
  const file = join(tempDir(t), 'a.json');
  writeFileSync(file, 'old');
  const results = await Promise.allSettled([
    updateFile(file, () => 'one'),
    updateFile(file, () => 42),
    updateFile(file, () => 'three'),
  ]);
  assert.equal(results[1].status, 'rejected');
  assert.match(results[1].reason.message, /fn must return a string or undefined/);
  assert.deepEqual([results[0].value, results[2].value], ['one', 'three']);
  assert.equal(readFileSync(file, 'utf8'), 'three');
});

test('a batched fn that awaits an earlier call of its batch is not left waiting for ever', { timeout: 20_000 }, async (t) => {
  const file = join(tempDir(t), 'a.json');
  writeFileSync(file, '');
  const first = updateFile(file, (text) => `${text}a`);
  const second = updateFile(file, async (text) => {
    assert.equal(await first, 'a', 'the earlier call resolved with its own text');
    assert.equal(readFileSync(file, 'utf8'), 'a', 'and that text was written before it resolved');
    return `${text}b`;
  });
  const third = updateFile(file, (text) => `${text}c`);
  assert.deepEqual(await Promise.all([first, second, third]), ['a', 'ab', 'abc']);
  assert.equal(readFileSync(file, 'utf8'), 'abc');
});
