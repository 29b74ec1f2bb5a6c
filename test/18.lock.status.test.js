// lockStatus: free, held shared or held exclusively, and by whom, asked from another process
// than the holder's, for flock (against lockedfile, flock(1) and Python holders) and pid files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LockError, lockStatus, tryLock } from 'lockedfile';
import { holdLock, releaseAndWait, run, spawnChild, moduleFile } from './helpers/children.js';
import { entry } from './helpers/package.js';
import { needs, testWhere } from './helpers/platform.js';
import { commandFor, thisRuntime } from './helpers/runtimes.js';
import { within } from './helpers/promises.js';
import { tempDir } from './helpers/temp.js';

const linux = process.platform === 'linux';

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: a lock never taken is free, from its missing lock file, which asking does not create`, (t) => {
    const path = join(tempDir(t), 'a.json');
    assert.deepEqual(lockStatus(path, { backend }), { path, lockfilePath: `${path}.lock`, backend, state: 'free', holders: [], source: 'absent' });
    assert.equal(existsSync(`${path}.lock`), false);
  });

  test(`${backend}: a lock another process holds is exclusive, held by that pid; free again once it releases`, async (t) => {
    const path = join(tempDir(t), 'a.json');
    const child = await holdLock(t, path, { backend });
    const before = readFileSync(`${path}.lock`);
    const held = lockStatus(path, { backend });
    assert.equal(held.state, 'exclusive');
    assert.equal(held.holders.length, 1);
    assert.equal(held.holders[0].pid, child.pid);
    assert.equal(held.holders[0].shared, false);
    assert.match(held.holders[0].description, new RegExp(`^pid ${child.pid} \\(`));
    assert.equal(held.source, backend === 'pidfile' ? 'record' : linux ? 'kernel' : 'probe');
    assert.deepEqual(readFileSync(`${path}.lock`), before, "asking changed the holder's lock file");
    assert.equal(await tryLock(path, { backend }), null, 'the holder still holds it after the question');
    await releaseAndWait(child);
    const free = lockStatus(path, { backend });
    assert.equal(free.state, 'free');
    assert.deepEqual(free.holders, []);
  });

  test(`${backend}: a missing folder is an ENOENT error naming the lock file, as lock() reports it`, (t) => {
    const path = join(tempDir(t), 'no', 'a.json');
    assert.throws(() => lockStatus(path, { backend }), (error) => {
      assert.equal(error.code, 'ENOENT');
      assert.deepEqual([error.path, error.lockfilePath], [path, `${path}.lock`]);
      return true;
    });
  });

  test(`${backend}: a FIFO at the lock path is refused at once, never opened for long`, (t) => {
    const path = join(tempDir(t), 'a.json');
    execFileSync('mkfifo', [`${path}.lock`]);
    assert.throws(() => lockStatus(path, { backend }), /not a regular file|EINVAL/);
  });
}

test('flock: shared holders, lockedfile and flock(1) -s, are all named; the lock stays theirs', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const lockfile = `${path}.lock`;
  const reader = await holdLock(t, path, { shared: true });
  const peer = spawnChild(t, 'flock', ['-s', lockfile, 'sh', '-c', 'echo holding; read line']);
  await within(peer.next('holding'), 10_000, 'flock(1) taking the lock shared');
  const status = lockStatus(path);
  assert.equal(status.state, 'shared');
  if (linux) {
    assert.deepEqual(status.holders.map((holder) => holder.pid).sort(), [reader.pid, peer.proc.pid].sort());
    assert.ok(status.holders.every((holder) => holder.shared));
  }
  assert.equal(execFileSync('flock', ['-s', '-n', lockfile, 'echo', 'ok'], { encoding: 'utf8' }), 'ok\n', 'a shared taker still gets it');
  assert.throws(() => execFileSync('flock', ['-x', '-n', lockfile, 'true']), 'an exclusive taker still does not');
  peer.send();
  await peer.exited;
  await releaseAndWait(reader);
  assert.equal(lockStatus(path).state, 'free');
});

test('flock: an exclusive Python holder, which writes no record, is named by the kernel', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const python = spawnChild(t, 'python3', ['-c', `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print('holding', flush=True)
sys.stdin.readline()`, `${path}.lock`]);
  await within(python.next('holding'), 10_000, 'python taking the lock');
  const status = lockStatus(path);
  assert.equal(status.state, 'exclusive');
  if (linux) assert.equal(status.holders[0]?.pid, python.proc.pid);
  python.send();
  await python.exited;
});

test('pidfile: a record left by a dead process is free (the next lock takes it over); a foreign file is ELOCKFOREIGN', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  const dead = Number(execFileSync(process.execPath, ['-p', 'process.pid'], { encoding: 'utf8' }));
  // A record of this host and pid namespace, whose process has exited.
  const pidns = linux ? { pidns: readlinkSync('/proc/self/ns/pid') } : {};
  writeFileSync(`${path}.lock`, `${JSON.stringify({ pid: dead, hostname: hostname(), started: 1, ...pidns })}\n`);
  const status = lockStatus(path, { backend: 'pidfile' });
  assert.equal(status.state, 'free', JSON.stringify(status));
  const other = join(dir, 'b.json');
  writeFileSync(`${other}.lock`, 'GEM\n');
  assert.throws(() => lockStatus(other, { backend: 'pidfile' }), (error) => error instanceof LockError && error.code === 'ELOCKFOREIGN' && error.lockfilePath === `${other}.lock`);
});

test('opts.lockfilePath: the status of a lock kept under another name', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'locks'));
  const lockfilePath = join(dir, 'locks', 'shared.lck');
  const child = await holdLock(t, join(dir, 'a.json'), { lockfilePath });
  const status = lockStatus(join(dir, 'a.json'), { lockfilePath });
  assert.equal(status.lockfilePath, lockfilePath);
  assert.equal(status.state, 'exclusive');
  assert.equal(lockStatus(join(dir, 'a.json')).state, 'free', 'the default lock file is another lock');
  await releaseAndWait(child);
});

testWhere(needs.hiddenLockTable, needs.flockCommand)('where the kernel lists no holder, the probe answers and names no current holder, only the last recorded one', async (t) => {
  const path = join(tempDir(t), 'a.json');
  // This process held and released it: its record stays in the lock file, though it holds nothing.
  (await tryLock(path)).release();
  const peer = spawnChild(t, 'flock', ['-x', `${path}.lock`, 'sh', '-c', 'echo holding; read line']);
  await within(peer.next('holding'), 10_000, 'flock(1) taking the lock');
  const asker = moduleFile(`import { lockStatus } from ${JSON.stringify(entry)}; console.log(JSON.stringify(lockStatus(${JSON.stringify(path)})));`);
  const { code, stdout, stderr } = await run('unshare', ['-m', 'sh', '-c', 'mount --bind /dev/null /proc/locks && exec "$@"', 'sh', ...commandFor(thisRuntime, process.execPath), asker]);
  assert.equal(code, 0, stderr);
  const status = JSON.parse(stdout);
  assert.equal(status.source, 'probe');
  assert.equal(status.state, 'exclusive');
  assert.deepEqual(status.holders, [], 'the record names who last held it, not who holds it');
  assert.equal(status.lastRecorded?.pid, process.pid);
  peer.send();
  await peer.exited;
});

testWhere(needs.python)('asking never creates the lock file, even while another process creates and removes it', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const lockfile = `${path}.lock`;
  // The racer creates the file exclusively and removes it, over and over: an EEXIST means
  // someone else made it in between.
  const racer = spawnChild(t, 'python3', ['-c', `
import os, sys, time
p = sys.argv[1]; clashes = 0; end = time.time() + 2.5
print('racing', flush=True)
while time.time() < end:
    try:
        os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        clashes += 1
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
print('{"event": "done", "clashes": %d}' % clashes, flush=True)`, lockfile]);
  await within(racer.next('racing'), 10_000, 'python starting');
  let asked = 0;
  const end = performance.now() + 2000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) lockStatus(path);
    asked += 100;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { clashes } = await racer.next('done');
  t.diagnostic(`${asked} questions while the file came and went`);
  assert.equal(clashes, 0, 'lockStatus created the lock file');
});
