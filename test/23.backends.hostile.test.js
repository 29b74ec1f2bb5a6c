// Hostile and foreign lock files: a FIFO, another tool's `<name>.lock`, the data file itself,
// a forged record, a read-only mount. Nothing hangs and nothing that is not ours is changed.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LockError, LockTimeoutError, lock, tryLock, updateFile } from 'lockedfile';
import { runNode, spawnChild } from './helpers/children.js';
import { reachableEntry } from './helpers/reachable.js';
import { tempDir } from './helpers/temp.js';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const isRoot = process.getuid?.() === 0;

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: a FIFO at the lock path is refused at once, as root and as another user; the event loop never stops`, async (t) => {
    const dir = tempDir(t);
    chmodSync(dir, 0o1777);
    const path = join(dir, 'data.json');
    execFileSync('mkfifo', ['-m', '666', `${path}.lock`]);
    const code = `
      import { lock } from ${JSON.stringify(isRoot ? reachableEntry() : entry)};
      const ticks = setInterval(() => {}, 5);
      const started = Date.now();
      try { await lock(${JSON.stringify(path)}, { backend: '${backend}', timeout: 2000 }); console.log('locked'); }
      catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message, ms: Date.now() - started })); }
      clearInterval(ticks);`;
    const users = [{}];
    if (isRoot) users.push({ uid: 65534, gid: 65534, cwd: tmpdir() });
    for (const user of users) {
      const { stdout } = await runNode(code, { ...user, timeout: 10_000 });
      assert.notEqual(stdout.trim(), '', `the lock call hung (${JSON.stringify(user)})`);
      const result = JSON.parse(stdout);
      assert.ok(result.ms < 1500, `took ${result.ms} ms`);
      assert.ok(result.message.includes(`${path}.lock`), result.message);
      assert.match(result.message, /not a regular file/);
    }
  });

  test(`${backend}: Bundler's Gemfile.lock next to Gemfile survives lock and updateFile byte for byte`, async (t) => {
    const dir = tempDir(t);
    const gemfile = join(dir, 'Gemfile');
    const contents = 'GEM\n  remote: https://rubygems.org/\n  specs:\n    rake (13.0.6)\n\nBUNDLED WITH\n   2.4.10\n';
    writeFileSync(`${gemfile}.lock`, contents);
    const attempt = async () => {
      const handle = await lock(gemfile, { backend, timeout: 500 });
      handle.release();
    };
    if (backend === 'flock') await attempt();
    else await assert.rejects(attempt(), { code: 'ELOCKFOREIGN' });
    await updateFile(gemfile, () => "source 'https://rubygems.org'\n", { backend }).catch((error) => assert.equal(error.code, 'ELOCKFOREIGN'));
    assert.equal(readFileSync(`${gemfile}.lock`, 'utf8'), contents);
    assert.ok(readdirSync(dir).every((name) => ['Gemfile', 'Gemfile.lock'].includes(name)), readdirSync(dir).join(' '));
  });
}

test('flock: opts.lockfilePath naming the data file itself locks it without writing into it, and excludes flock(1)', async (t) => {
  const path = join(tempDir(t), 'data.json');
  writeFileSync(path, '{"count": 1}\n');
  const handle = await lock(path, { lockfilePath: path });
  assert.equal(readFileSync(path, 'utf8'), '{"count": 1}\n');
  const peer = spawnSync('flock', ['-n', path, 'true']);
  assert.equal(peer.status, 1, 'flock(1) got a lock that lockedfile holds');
  const error = await lock(path, { lockfilePath: path, timeout: 100 }).catch((caught) => caught);
  assert.ok(error instanceof LockTimeoutError && error instanceof LockError, String(error));
  handle.release();
  assert.equal(spawnSync('flock', ['-n', path, 'true']).status, 0);
  assert.equal(readFileSync(path, 'utf8'), '{"count": 1}\n');
});

test('flock: a forged record with a path in its nonce is not a record: the timeout names no one and no file appears', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  writeFileSync(`${path}.lock`, `${JSON.stringify({ pid: process.pid, hostname: 'h', started: 1, command: 'x', nonce: '../../../etc/x' })}\n`);
  const holder = spawnChild(t, 'flock', [`${path}.lock`, '-c', 'echo locked; sleep 30']);
  await holder.next('locked');
  const error = await lock(path, { timeout: 100 }).catch((caught) => caught);
  assert.equal(error.code, 'ELOCKTIMEOUT');
  assert.equal(error.holder, undefined);
  assert.deepEqual(readdirSync(dir), ['a.json.lock']);
});

test('flock: a lock file on a read-only mount still locks (shared and exclusive), as flock -s does', async (t) => {
  if (!isRoot) return t.skip('needs root to bind-mount');
  const dir = tempDir(t);
  const source = join(dir, 'source');
  const mounted = join(dir, 'ro');
  mkdirSync(source);
  mkdirSync(mounted);
  writeFileSync(join(source, 'a.json.lock'), '');
  const bind = spawnSync('mount', ['--bind', source, mounted]);
  if (bind.status !== 0) return t.skip(`mount --bind failed: ${bind.stderr}`);
  t.after(() => spawnSync('umount', ['-l', mounted]));
  if (spawnSync('mount', ['-o', 'remount,ro,bind', mounted]).status !== 0) return t.skip('remount read-only failed');
  for (const shared of [true, false]) {
    const handle = await tryLock(join(mounted, 'a.json'), { shared });
    assert.ok(handle, `no ${shared ? 'shared' : 'exclusive'} lock on a read-only mount`);
    handle.release();
  }
});
