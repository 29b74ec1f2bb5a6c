// The file stack with others around: a concurrent writeFileAtomic keeps its temp file, a dead
// writer's is swept, any name that fits the file system can be written atomically, and a link
// planted while an update waits is not followed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { updateFile, writeFileAtomic } from 'lockedfile';
import { holdLock, moduleFile, releaseAndWait, runNode, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

test('updateFile never sweeps away the temp file of a concurrent writeFileAtomic in another process', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  const writer = spawnChild(t, process.execPath, [moduleFile(`
    import { writeFileAtomic } from ${JSON.stringify(entry)};
    let failed = 0;
    for (let i = 0; i < 300; i++) await writeFileAtomic(${JSON.stringify(path)}, 'w'.repeat(50000) + i, { fsync: false }).catch(() => failed++);
    console.log(JSON.stringify({ event: 'done', failed }));`)]);
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

test('the temp file of a writer that is gone is removed by each process\'s first update of the file; a live writer\'s is kept', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  // The name a writer gives its temp file: its pid (base 36) and a tag for its host and pid namespace.
  let namespace = '';
  try {
    namespace = readlinkSync('/proc/self/ns/pid');
  } catch {}
  const tag = createHash('sha256').update(`${hostname()}\0${namespace}`).digest('hex').slice(0, 8);
  const gone = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
  const temp = (pid) => `.a.json.${Number(pid).toString(36).padStart(8, '0')}-${tag}-0123456789abcdef.tmp`;
  writeFileSync(join(dir, temp(gone)), 'half');
  writeFileSync(join(dir, temp(process.ppid)), 'in progress');
  await updateFile(path, () => 'after');
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), [temp(process.ppid)]);
  assert.equal(readFileSync(path, 'utf8'), 'after');

  // The folder is read on a process's first update of the file only: a writer killed later
  // leaves its temp file to the next process that updates it.
  const later = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
  writeFileSync(join(dir, temp(later)), 'half');
  await updateFile(path, () => 'again');
  assert.ok(existsSync(join(dir, temp(later))), 'a second update in this process read the folder again');
  const next = await runNode(`
    import { updateFile } from ${JSON.stringify(entry)};
    await updateFile(${JSON.stringify(path)}, () => 'by another process');`);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), [temp(process.ppid)]);
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

test('a file replaced by a symlink while updateFile waits for its lock is neither read nor written through', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'state.json');
  const secret = join(dir, 'secret.txt');
  writeFileSync(path, '{}');
  writeFileSync(secret, 'not yours');
  const holder = await holdLock(t, path);
  let called = false;
  const update = updateFile(path, () => {
    called = true;
    return 'overwritten';
  }).catch((error) => error);
  await new Promise((resolve) => setTimeout(resolve, 100));
  unlinkSync(path);
  symlinkSync(secret, path); // planted while the update waits
  await releaseAndWait(holder);
  const error = await update;
  assert.equal(error?.code, 'ELOCKSYMLINK', String(error));
  assert.ok(error.message.includes(path), error.message);
  assert.equal(called, false, 'fn was given the text behind the planted link');
  assert.equal(readFileSync(secret, 'utf8'), 'not yours');
  assert.equal(lstatSync(path).isSymbolicLink(), true);
});
