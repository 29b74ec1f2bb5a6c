import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { lock, lockSync, tryLock, tryLockSync } from 'lockedfile';
import { holdLock, holder, releaseAndWait, run } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';

/** Whether another process can take the lock on `path` right now (flock(1) on the lock file). */
async function freeForOthers(path) {
  const { code } = await run('flock', ['-n', `${path}.lock`, 'true']);
  return code === 0;
}

test('lock() returns a handle describing the lock, held until release()', async (t) => {
  const path = join(tempDir(t), 'settings.json');
  const handle = await lock(path);
  assert.equal(handle.path, path);
  assert.equal(handle.lockfilePath, `${path}.lock`);
  assert.equal(handle.backend, 'flock');
  assert.equal(handle.shared, false);
  assert.equal(handle.released, false);
  assert.equal(existsSync(path), false, 'the target itself need not exist');
  assert.equal(await freeForOthers(path), false);
  handle.release();
  assert.equal(handle.released, true);
  assert.equal(await freeForOthers(path), true);
});

test('release() is idempotent and the lock file is never unlinked', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const first = await lock(path);
  first.release();
  first.release();
  assert.ok(existsSync(`${path}.lock`));
  // A second release of an old handle must not drop a newer holder's lock.
  const second = await lock(path);
  first.release();
  assert.equal(await freeForOthers(path), false);
  second.release();
});

test('Symbol.dispose and Symbol.asyncDispose release the lock', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const handle = await lock(path);
  handle[Symbol.dispose]();
  assert.equal(handle.released, true);
  assert.equal(await freeForOthers(path), true);
  const other = await lock(path);
  await other[Symbol.asyncDispose]();
  assert.equal(other.released, true);
  assert.equal(await freeForOthers(path), true);
});

test('tryLock resolves null while another process holds the lock, and a handle once it is free', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const child = await holdLock(t, path);
  assert.equal(await tryLock(path), null);
  assert.equal(tryLockSync(path), null);
  await releaseAndWait(child);
  const handle = await tryLock(path);
  assert.ok(handle);
  handle.release();
  const sync = tryLockSync(path);
  assert.ok(sync);
  sync.release();
});

test('lockSync blocks until another process releases, within opts.timeout', async (t) => {
  const path = join(tempDir(t), 'a.json');
  // lockSync blocks this thread, so the child releases on its own while we block.
  const child = holder(t, 'hold', { path, opts: {}, releaseAfterMs: 300 });
  await child.next('locked');
  const handle = lockSync(path, { timeout: 10_000 });
  assert.equal(handle.released, false);
  await child.exited;
  handle.release();
});

test('lock files are created owner-only (0600) unless opts.mode says otherwise', async (t) => {
  const dir = tempDir(t);
  const umask = process.umask(0);
  t.after(() => process.umask(umask));
  const plain = await lock(join(dir, 'a.json'));
  plain.release();
  assert.equal(statSync(join(dir, 'a.json.lock')).mode & 0o777, 0o600);
  const group = await lock(join(dir, 'b.json'), { lockfileMode: 0o660 });
  group.release();
  assert.equal(statSync(join(dir, 'b.json.lock')).mode & 0o777, 0o660);
});

test('a symlink planted at the lock path is never followed', async (t) => {
  const dir = tempDir(t);
  const victim = join(dir, 'victim');
  symlinkSync(victim, join(dir, 'a.json.lock'));
  await assert.rejects(lock(join(dir, 'a.json')), (error) => {
    assert.equal(error.code, 'ELOOP');
    assert.match(error.message, /a\.json\.lock/);
    assert.match(error.message, /symbolic link/);
    return true;
  });
  assert.equal(existsSync(victim), false, 'nothing was created through the link');
});

test('opts.lockfilePath puts the lock elsewhere', async (t) => {
  const dir = tempDir(t);
  const lockfilePath = join(dir, 'custom.lock');
  const handle = await lock(join(dir, 'a.json'), { lockfilePath });
  assert.equal(handle.lockfilePath, lockfilePath);
  assert.equal((await run('flock', ['-n', lockfilePath, 'true'])).code, 1);
  handle.release();
});

test('a relative path, an absolute path and a symlinked folder are one lock', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  const absolute = join(dir, 'real', 'a.json');
  const handle = await lock(absolute);
  assert.equal(await tryLock(relative(process.cwd(), absolute)), null);
  assert.equal(await tryLock(join(dir, 'link', 'a.json')), null);
  assert.equal(await tryLock(new URL(`file://${absolute}`)), null);
  handle.release();
  const viaLink = await tryLock(join(dir, 'link', 'a.json'));
  assert.ok(viaLink);
  assert.equal(await tryLock(absolute), null);
  viaLink.release();
});

test('an exclusive holder records its pid, host and command in the lock file', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const child = await holdLock(t, path);
  const record = JSON.parse(readFileSync(`${path}.lock`, 'utf8'));
  assert.equal(record.pid, child.pid);
  assert.equal(typeof record.hostname, 'string');
  assert.match(record.command, /holder\.js/);
  assert.ok(Math.abs(record.started - Date.now()) < 60_000, 'start time is the child\'s');
  await releaseAndWait(child);
});
