import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LockTimeoutError, tryLock, updateFile, writeFileAtomic } from 'lockedfile';
import { holdLock, moduleFile, run } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: 8 processes x 25 updateFile increments end with exactly 200`, async (t) => {
    const file = join(tempDir(t), 'count.txt');
    const code = `
      import { updateFile } from ${JSON.stringify(entry)};
      for (let i = 0; i < 25; i++) {
        await updateFile(${JSON.stringify(file)}, (text) => String(Number(text ?? '0') + 1), { backend: '${backend}', fsync: false });
      }`;
    const results = await Promise.all(Array.from({ length: 8 }, () => run(process.execPath, [moduleFile(code)])));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(file, 'utf8'), '200');
  });
}

test('updateFile passes the current text (undefined for no file) and resolves with what it wrote', async (t) => {
  const file = join(tempDir(t), 'a.txt');
  const seen = [];
  assert.equal(await updateFile(file, (text) => (seen.push(text), 'one')), 'one');
  assert.equal(await updateFile(file, (text) => (seen.push(text), `${text} two`)), 'one two');
  assert.deepEqual(seen, [undefined, 'one']);
  assert.equal(readFileSync(file, 'utf8'), 'one two');
});

test('when nothing changes nothing is written: same inode, same mtime', async (t) => {
  const file = join(tempDir(t), 'a.txt');
  writeFileSync(file, 'same');
  const before = statSync(file);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await updateFile(file, (text) => text), 'same');
  assert.equal(await updateFile(file, () => undefined), 'same');
  const after = statSync(file);
  assert.equal(after.ino, before.ino);
  assert.equal(after.mtimeMs, before.mtimeMs);
});

test('an updater that throws rejects with its error; nothing is written and the lock is released', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'keep');
  const boom = new Error('boom');
  await assert.rejects(
    updateFile(file, () => {
      throw boom;
    }),
    (error) => error === boom,
  );
  await assert.rejects(updateFile(file, () => 42), /fn must return a string or undefined/);
  assert.equal(readFileSync(file, 'utf8'), 'keep');
  const handle = await tryLock(file);
  assert.ok(handle, 'the lock was released');
  handle.release();
  assert.deepEqual(readdirSync(dir).sort(), ['a.txt', 'a.txt.lock']);
});

test('lock options pass through: a timeout while another process holds the lock', async (t) => {
  const file = join(tempDir(t), 'a.txt');
  await holdLock(t, file);
  let called = false;
  await assert.rejects(updateFile(file, () => ((called = true), 'x'), { timeout: 100 }), LockTimeoutError);
  assert.equal(called, false);
});

test('temp files whose writer cannot be known to be gone, or that belong to another file, are kept by the sweep', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'v1');
  const kept = ['.a.txt.0123456789abcdef.tmp', `.a.txt.${process.pid.toString(36).padStart(8, '0')}-00000000-0123456789abcdef.tmp`, '.other.txt.0123456789abcdef.tmp'];
  for (const name of kept) writeFileSync(join(dir, name), 'half');
  await updateFile(file, () => 'v2');
  assert.deepEqual(readdirSync(dir).sort(), [...kept, 'a.txt', 'a.txt.lock'].sort());
});

test('through a symlink the lock and the write are on its target; the link stays a link', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'real'));
  const target = join(dir, 'real', 'a.txt');
  const link = join(dir, 'a.txt');
  writeFileSync(target, '1');
  symlinkSync(target, link);
  assert.equal(await updateFile(link, (text) => String(Number(text) + 1)), '2');
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readFileSync(target, 'utf8'), '2');
  assert.deepEqual(readdirSync(join(dir, 'real')).sort(), ['a.txt', 'a.txt.lock']);
  assert.deepEqual(readdirSync(dir).sort(), ['a.txt', 'real']);
  // A process holding the target's lock keeps an update through the link waiting.
  await holdLock(t, target);
  await assert.rejects(updateFile(link, () => 'x', { timeout: 100 }), LockTimeoutError);
  assert.equal(readFileSync(target, 'utf8'), '2');
});

test('a directory as the target rejects; nothing is left behind', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'folder'));
  let called = false;
  await assert.rejects(updateFile(join(dir, 'folder'), () => ((called = true), 'x')), (error) => {
    assert.equal(error.code, 'EISDIR');
    assert.equal(error.errno, -constants.errno.EISDIR, 'Node\'s shape: errno and syscall too');
    assert.equal(typeof error.syscall, 'string');
    assert.ok(error.message.includes(join(dir, 'folder')), error.message);
    return true;
  });
  assert.equal(called, false);
  assert.deepEqual(readdirSync(join(dir, 'folder')), []);
  const handle = await tryLock(join(dir, 'folder'));
  assert.ok(handle, 'the lock was released');
  handle.release();
});

// Under the lock the reads and writes are synchronous system calls (a thread-pool round trip
// each would hold every waiting writer up); each call still lets the event loop turn.
test('a loop of updates and atomic writes without fsync still lets timers and I/O run', async (t) => {
  const file = join(tempDir(t), 'count.txt');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  t.after(() => clearInterval(timer));
  const started = Date.now();
  // With no turn of the loop, no tick ever comes and this would never end.
  for (let i = 0; ticks < 3; i++) {
    await updateFile(file, (text) => `${Number(text ?? 0) + 1}`, { fsync: false });
    assert.ok(Date.now() - started < 60_000, 'no timer ran during a minute of updates');
  }
  const before = ticks;
  while (ticks < before + 3) {
    await writeFileAtomic(file, 'x', { fsync: false });
    assert.ok(Date.now() - started < 60_000, 'no timer ran during a minute of writes');
  }
});
