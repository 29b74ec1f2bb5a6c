// Named locks: a lock on a resource ("persona:ada") rather than a file, kept in a lock folder
// under a file name that no name can use to escape the folder or to share another name's lock.
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { LockTimeoutError, lockName, lockStatus, namedLockPath, tryLock, withLockName } from 'lockedfile';
import { runNode } from './helpers/children.js';
import { entry } from './helpers/package.js';
import { tempDir } from './helpers/temp.js';

test('two processes updating one counter under withLockName lose no update, and exclude a third that asks with a timeout', { timeout: 60_000 }, async (t) => {
  const folder = join(tempDir(t), 'locks');
  const counter = join(dirname(folder), 'counter');
  writeFileSync(counter, '0');
  const times = 150;
  const worker = `
    import { readFileSync, writeFileSync } from 'node:fs';
    import { withLockName } from ${JSON.stringify(entry)};
    for (let i = 0; i < ${times}; i++) {
      await withLockName('persona:ada', async () => {
        const value = Number(readFileSync(${JSON.stringify(counter)}, 'utf8'));
        await new Promise((resolve) => setImmediate(resolve));
        writeFileSync(${JSON.stringify(counter)}, String(value + 1));
      }, { folder: ${JSON.stringify(folder)} });
    }`;
  const results = await Promise.all([runNode(worker), runNode(worker)]);
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  assert.equal(readFileSync(counter, 'utf8'), String(2 * times));
  assert.deepEqual(readdirSync(folder), ['persona%3Aada.lock']);

  const held = await lockName('persona:ada', { folder });
  const other = await runNode(`
    import { lockName } from ${JSON.stringify(entry)};
    try { await lockName('persona:ada', { folder: ${JSON.stringify(folder)}, timeout: 100 }); console.log('got it'); }
    catch (error) { console.log(error.code); }`);
  assert.equal(other.stdout.trim(), 'ELOCKTIMEOUT', other.stderr);
  assert.equal(lockStatus(namedLockPath('persona:ada', { folder })).state, 'exclusive');
  assert.equal(await tryLock(namedLockPath('persona:ada', { folder })), null, 'tryLock on the named path is the same lock');
  await assert.rejects(lockName('persona:ada', { folder, timeout: 0 }), LockTimeoutError);
  held.release();
  assert.equal(await withLockName('persona:ada', (handle) => handle.lockfilePath, { folder }), join(folder, 'persona%3Aada.lock'));
});

test('property: every name maps to one file directly in the folder, distinct for distinct names even where case is folded', (t) => {
  const folder = tempDir(t);
  const names = fc.oneof(
    fc.string({ minLength: 1, maxLength: 40 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    fc.constantFrom('.', '..', '../..', '/etc/passwd', '..\\x', 'a/../b', '~', 'A', 'a', '%41', 'nul', 'x\0y'),
    fc.string({ minLength: 150, maxLength: 400 }),
  );
  fc.assert(
    fc.property(fc.uniqueArray(names, { minLength: 1, maxLength: 20 }), (list) => {
      const files = list.map((name) => namedLockPath(name, { folder }));
      for (const file of files) {
        assert.equal(dirname(file), folder, file);
        const name = basename(file);
        assert.ok(name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\\') && !name.includes('\0'), name);
        assert.ok(/^[\x21-\x7e]+$/.test(name), `printable ASCII only: ${name}`);
        assert.ok(Buffer.byteLength(`${name}.lock`) <= 255, `${name.length} bytes`);
      }
      assert.equal(new Set(files.map((file) => file.toLowerCase())).size, list.length, 'two names share a file');
    }),
    { numRuns: 300 },
  );
});

test('the default folder is lockedfile-<uid> in the temp folder, made owner-only', async (t) => {
  const tmp = tempDir(t);
  const { stdout, stderr, code } = await runNode(
    `import { namedLockPath } from ${JSON.stringify(entry)}; console.log(namedLockPath('single-instance'));`,
    { env: { ...process.env, TMPDIR: tmp } },
  );
  assert.equal(code, 0, stderr);
  const folder = join(tmp, `lockedfile-${process.getuid()}`);
  assert.equal(stdout.trim(), join(folder, 'single-instance'));
  const info = lstatSync(folder);
  assert.ok(info.isDirectory());
  assert.equal(info.mode & 0o777, 0o700);
});

test('a default folder planted by someone else (writable by others, or a symlink) is refused with ELOCKFOREIGN', async (t) => {
  for (const plant of ['open', 'link']) {
    const tmp = tempDir(t);
    const folder = join(tmp, `lockedfile-${process.getuid()}`);
    if (plant === 'open') {
      mkdirSync(folder);
      chmodSync(folder, 0o777);
    } else {
      mkdirSync(join(tmp, 'elsewhere'), { mode: 0o700 });
      symlinkSync(join(tmp, 'elsewhere'), folder);
    }
    const { stdout, stderr } = await runNode(
      `import { lockName } from ${JSON.stringify(entry)};
       try { await lockName('x'); console.log('locked'); } catch (error) { console.log(JSON.stringify({ code: error.code, name: error.name, message: error.message })); }`,
      { env: { ...process.env, TMPDIR: tmp } },
    );
    const error = JSON.parse(stdout);
    assert.equal(error.code, 'ELOCKFOREIGN', `${plant}: ${stdout} ${stderr}`);
    assert.equal(error.name, 'LockError');
    assert.ok(error.message.includes(folder) && error.message.includes('opts.folder'), error.message);
    assert.deepEqual(readdirSync(plant === 'open' ? folder : join(tmp, 'elsewhere')), [], 'nothing was created in it');
  }
});

test('bad names and opts.lockfilePath are refused with a TypeError, taking nothing', async (t) => {
  const folder = tempDir(t);
  for (const name of ['', undefined, 42, null]) {
    await assert.rejects(lockName(name, { folder }), (error) => error instanceof TypeError && /lock name must be a non-empty string/.test(error.message));
  }
  await assert.rejects(lockName('x', { folder, lockfilePath: join(folder, 'y') }), (error) => error instanceof TypeError && /opts\.folder/.test(error.message));
  await assert.rejects(withLockName('x', () => {}, { folder, lockfilePath: join(folder, 'y') }), TypeError);
  assert.deepEqual(readdirSync(folder), []);
});

test('a folder that cannot be made is a system error naming it and opts.folder', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), '');
  await assert.rejects(lockName('x', { folder: join(dir, 'file', 'locks') }), (error) => {
    assert.equal(error.code, 'ENOTDIR');
    assert.equal(error.syscall, 'mkdir');
    assert.equal(error.path, join(dir, 'file', 'locks'));
    assert.match(error.message, /^lockedfile: cannot create the lock folder .*opts\.folder/);
    return true;
  });
});

test('a link planted at a name in a shared folder is not followed: the lock file stays in the folder', async (t) => {
  const dir = tempDir(t);
  const folder = join(dir, 'locks');
  mkdirSync(join(dir, 'victim'));
  mkdirSync(folder, { mode: 0o777 });
  symlinkSync(join(dir, 'victim', 'config'), join(folder, 'nightly'));
  const handle = await lockName('nightly', { folder });
  assert.equal(handle.lockfilePath, join(folder, 'nightly.lock'));
  handle.release();
  assert.deepEqual(readdirSync(join(dir, 'victim')), [], 'nothing was made beside the link\'s target');
  await withLockName('nightly', (held) => assert.equal(held.lockfilePath, join(folder, 'nightly.lock')), { folder });
});

test('a name holding a lone surrogate is refused: it would share the lock of U+FFFD', async (t) => {
  const folder = tempDir(t);
  for (const name of ['job-\uD83D', 'job-\uDC00', '\uD83C']) {
    await assert.rejects(lockName(name, { folder }), (error) => error instanceof TypeError && /lone UTF-16 surrogate/.test(error.message), JSON.stringify(name));
  }
  assert.equal(basename(namedLockPath('job-\uFFFD', { folder })), 'job-%EF%BF%BD');
  assert.equal(basename(namedLockPath('\uD83D\uDE00', { folder })), '%F0%9F%98%80', 'a pair is one character');
});

test('a relative TMPDIR, or one others may write without the sticky bit, is refused for the default folder', async (t) => {
  const dir = tempDir(t);
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const cases = [
    { tmp: 'relative/tmp', code: 'EINVAL', says: /not an absolute path/ },
    { tmp: open, code: 'ELOCKFOREIGN', says: /not sticky/ },
  ];
  for (const { tmp, code, says } of cases) {
    const { stdout, stderr } = await runNode(
      `import { lockName } from ${JSON.stringify(entry)};
       try { await lockName('x'); console.log('{"code":"locked"}'); } catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`,
      { env: { ...process.env, TMPDIR: tmp }, cwd: dir },
    );
    const error = JSON.parse(stdout);
    assert.equal(error.code, code, `${tmp}: ${stdout} ${stderr}`);
    assert.match(error.message, says);
    assert.match(error.message, /opts\.folder/);
  }
  assert.deepEqual(readdirSync(open), [], 'nothing was made in the open folder');
  assert.ok(!readdirSync(dir).includes('relative'));
});
