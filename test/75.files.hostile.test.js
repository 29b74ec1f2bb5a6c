// The file stack with others around: a concurrent writeFileAtomic keeps its temp file, a dead
// writer's is swept, and any name that fits the file system can be written atomically.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { updateFile, writeFileAtomic } from 'lockedfile';
import { spawnChild } from './helpers/children.js';
import { within } from './helpers/promises.js';
import { tempDir } from './helpers/temp.js';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));

test('updateFile never sweeps away the temp file of a concurrent writeFileAtomic in another process', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  const writer = spawnChild(t, process.execPath, ['--input-type=module', '-e', `
    import { writeFileAtomic } from ${JSON.stringify(entry)};
    let failed = 0;
    for (let i = 0; i < 300; i++) await writeFileAtomic(${JSON.stringify(path)}, 'w'.repeat(50000) + i, { fsync: false }).catch(() => failed++);
    console.log(JSON.stringify({ event: 'done', failed }));`]);
  const done = writer.next('done');
  let finished = false;
  done.then(() => (finished = true));
  let updates = 0;
  while (!finished) {
    await updateFile(path, (text) => `${text ?? ''}`.slice(0, 10) + updates, { fsync: false });
    updates++;
  }
  assert.equal((await done).failed, 0, 'writes failed while updates swept temp files');
  assert.ok(updates > 0);
});

test('the temp file of a writer killed mid-write is removed by the next update', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  const writer = spawnChild(t, process.execPath, ['--input-type=module', '-e', `
    import { writeFileAtomic } from ${JSON.stringify(entry)};
    await writeFileAtomic(${JSON.stringify(path)}, Buffer.alloc(1 << 28, 1));`]);
  const temps = () => readdirSync(dir).filter((name) => name.endsWith('.tmp'));
  await within(
    (async () => {
      while (temps().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    20_000,
    'the writer creating its temp file',
  );
  await writer.kill('SIGKILL');
  assert.equal(temps().length, 1);
  await updateFile(path, () => 'after');
  assert.deepEqual(temps(), []);
  assert.equal(readFileSync(path, 'utf8'), 'after');
});

test('a name of 255 bytes (ASCII or multi-byte) is written atomically', async (t) => {
  const dir = tempDir(t);
  for (const name of ['a'.repeat(255), `${'é'.repeat(127)}a`, `${'😀'.repeat(63)}abc`]) {
    assert.equal(Buffer.byteLength(name), 255);
    const path = join(dir, name);
    await writeFileAtomic(path, 'one');
    assert.equal(await updateFile(path, (text) => `${text} two`, { lockfilePath: join(dir, 'x.lock') }), 'one two');
    assert.equal(readFileSync(path, 'utf8'), 'one two');
  }
  assert.ok(readdirSync(dir).every((name) => !name.endsWith('.tmp')));
});
