import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lock, lockAll, lockSync, tryLock, withLock } from 'lockedfile';
import { runNode } from './helpers/children.js';
import { reachableEntry, reachableRuntime } from './helpers/reachable.js';
import { tempDir } from './helpers/temp.js';

const backends = ['flock', 'pidfile'];

for (const backend of backends) {
  test(`${backend}: a missing parent folder is an ENOENT error naming the lock file and the fix`, async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'missing', 'a.json');
    await assert.rejects(lock(path, { backend }), (error) => {
      assert.equal(error.code, 'ENOENT');
      assert.equal(error.errno, -constants.errno.ENOENT);
      assert.equal(error.path, path, 'path is the path asked for, as on every error');
      assert.equal(error.lockfilePath, `${path}.lock`, 'lockfilePath is the file the call failed on');
      assert.ok(error.message.includes(`${path}.lock`));
      assert.match(error.message, /folder does not exist/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), []);
  });

  test(`${backend}: a lock path that is a directory is an EISDIR error, not an endless wait`, async (t) => {
    const path = join(tempDir(t), 'a.json');
    mkdirSync(`${path}.lock`);
    await assert.rejects(lock(path, { backend, timeout: 5000 }), (error) => {
      assert.equal(error.code, 'EISDIR');
      assert.equal(error.errno, -constants.errno.EISDIR);
      assert.deepEqual([error.path, error.lockfilePath], [path, `${path}.lock`]);
      assert.ok(error.message.includes(`${path}.lock`));
      assert.match(error.message, /is a directory/);
      return true;
    });
    assert.throws(() => lockSync(path, { backend, timeout: 5000 }), { code: 'EISDIR' });
  });
}

// Root ignores folder permissions, so the attempt runs as an unprivileged user when we are root.
function asUnprivileged(dir) {
  if (process.getuid?.() !== 0) return {};
  chmodSync(dir, 0o755);
  // The child must not start in a folder it cannot enter (the checkout may be one), nor run a
  // binary from one.
  return { uid: 65534, gid: 65534, cwd: tmpdir(), runtime: reachableRuntime() };
}

/** Takes the lock on `path` as an unprivileged user (see asUnprivileged): 'locked', or the error's code, syscall and message. */
async function lockAsUnprivileged(path, dir, backend) {
  const code = `
    import { lock } from ${JSON.stringify(reachableEntry())};
    try { await lock(${JSON.stringify(path)}, { backend: '${backend}' }); console.log('"locked"'); }
    catch (error) { console.log(JSON.stringify({ code: error.code, syscall: error.syscall, message: error.message })); }`;
  const { stdout, stderr } = await runNode(code, asUnprivileged(dir));
  assert.equal(stderr, '');
  return JSON.parse(stdout);
}

for (const backend of backends) {
  test(`${backend}: a read-only folder is an EACCES error that says the folder must be writable`, async (t) => {
    const dir = tempDir(t);
    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly, { mode: 0o555 });
    chmodSync(readOnly, 0o555);
    const path = join(readOnly, 'a.json');
    const error = await lockAsUnprivileged(path, dir, backend);
    assert.equal(error.code, 'EACCES');
    assert.ok(error.message.includes(`${path}.lock`));
    assert.match(error.message, /must be writable/);
    assert.deepEqual(readdirSync(readOnly), []);
  });
}

test('flock: another user\'s lock file (mode 0600) is an EACCES error that names its owner and mode, not the folder', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to make a lock file another user cannot open');
  const dir = tempDir(t);
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  const path = join(shared, 'a.json');
  writeFileSync(`${path}.lock`, '', { mode: 0o600 });
  const error = await lockAsUnprivileged(path, dir, 'flock');
  assert.equal(error.code, 'EACCES');
  assert.ok(error.message.includes(`${path}.lock`), error.message);
  assert.match(error.message, /belongs to uid 0 .*mode 0600/);
  assert.doesNotMatch(error.message, /folder must be writable/);
});

test('flock: a lock file in a folder this user cannot enter is an EACCES error with the folder\'s advice', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run as another user');
  const dir = tempDir(t);
  const closed = join(dir, 'closed');
  mkdirSync(closed, { mode: 0o700 });
  const path = join(closed, 'a.json');
  writeFileSync(`${path}.lock`, '', { mode: 0o644 });
  const error = await lockAsUnprivileged(path, dir, 'flock');
  assert.deepEqual([error.code, error.syscall], ['EACCES', 'open']);
  assert.match(error.message, /must be writable/);
  assert.doesNotMatch(error.message, /belongs to uid/);
});

test('flock: an existing lock file in a read-only folder still locks', async (t) => {
  const dir = tempDir(t);
  const readOnly = join(dir, 'read-only');
  mkdirSync(readOnly);
  writeFileSync(join(readOnly, 'a.json.lock'), '', { mode: 0o644 });
  chmodSync(readOnly, 0o555);
  const path = join(readOnly, 'a.json');
  const code = `
    import { lock } from ${JSON.stringify(reachableEntry())};
    const handle = await lock(${JSON.stringify(path)});
    console.log(handle.backend);
    handle.release();`;
  const { stdout, stderr } = await runNode(code, asUnprivileged(dir));
  assert.equal(stderr, '');
  assert.equal(stdout.trim(), 'flock');
});

test('a path that is not a non-empty string or file: URL is a TypeError', async () => {
  for (const bad of [42, null, undefined, '', {}, 'a\0b']) {
    await assert.rejects(lock(bad), (error) => error instanceof TypeError && /path must be a non-empty string or a file: URL/.test(error.message));
    await assert.rejects(tryLock(bad), TypeError);
    assert.throws(() => lockSync(bad), TypeError);
  }
  await assert.rejects(lockAll([]), TypeError);
  await assert.rejects(withLock('x.json', 'not a function'), /fn must be a function/);
});

test('bad options are rejected with a message naming the option', async (t) => {
  const path = join(tempDir(t), 'a.json');
  await assert.rejects(lock(path, { timeout: -1 }), /opts\.timeout must be a number >= 0/);
  await assert.rejects(lock(path, { timeout: 'soon' }), RangeError);
  await assert.rejects(lock(path, { backend: 'fcntl' }), /opts\.backend is "fcntl"; use 'auto', 'flock' or 'pidfile'/);
  await assert.rejects(lock(path, { signal: {} }), /opts\.signal must be an AbortSignal/);
  await assert.rejects(lock(path, 'fast'), /opts must be an object/);
  assert.equal(existsSync(`${path}.lock`), false, 'nothing was created');
});

test('withLock releases the lock when fn throws, and rethrows its error', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const boom = new Error('boom');
  await assert.rejects(
    withLock(path, () => {
      throw boom;
    }),
    (error) => error === boom,
  );
  const handle = await tryLock(path);
  assert.ok(handle, 'the lock was released');
  handle.release();
});

test('ENOLCK (NFS without a lock manager), which libuv may not name, is named from os.constants, with its advice', async () => {
  // No file system here refuses flock, so the error is built as the backends build it.
  const { systemError } = await import('../dist/common/errors.js');
  const { ENOLCK } = constants.errno;
  const error = systemError(-ENOLCK, 'flock', { path: '/data/a.json', lockfilePath: '/data/a.json.lock' }, 'lock');
  assert.deepEqual([error.code, error.errno, error.syscall, error.path, error.lockfilePath], ['ENOLCK', -ENOLCK, 'flock', '/data/a.json', '/data/a.json.lock']);
  assert.match(error.message, /^lockedfile: cannot lock \/data\/a\.json\.lock: the file system cannot lock files \(NFS/);
  assert.doesNotMatch(error.message, /Unknown system error/);
  // One sign convention, Node's: a positive number is a caller's mistake, not an errno to guess at.
  assert.throws(() => systemError(ENOLCK, 'flock', { path: '/data/a.json', lockfilePath: '/data/a.json.lock' }, 'lock'), RangeError);
});
