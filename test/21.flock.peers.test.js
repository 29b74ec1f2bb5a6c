// lockedfile against the other flock users on the machine: flock(1) and Python's fcntl.flock.
// They lock the same file we do (path + '.lock'), so each side must exclude the other.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { lock, tryLock, tryLockSync } from 'lockedfile';
import { run, spawnChild } from './helpers/children.js';
import { track } from './helpers/promises.js';
import { tempDir } from './helpers/temp.js';
import { needs, testWhere } from './helpers/platform.js';

const test = testWhere(needs.flock, needs.flockCommand, needs.python, needs.bash);

// Peers share the kernel's flock, not pid files: ask for that backend by name, so that a
// LOCKEDFILE_BACKEND in the environment cannot change what these tests prove.
const FLOCK = { backend: 'flock' };
const SHARED = { backend: 'flock', shared: true };

/** A lock file in a fresh folder, and the path it protects. */
function paths(t) {
  const path = join(tempDir(t), 'state.json');
  return { path, lockfile: `${path}.lock` };
}

/** flock(1) trying `mode` ('-x' or '-s') on `lockfile` without waiting: its exit code (0 got it, 1 refused). */
async function flockNow(lockfile, mode = '-x') {
  const { code, stderr } = await run('flock', ['-n', mode, lockfile, 'true']);
  assert.ok(code === 0 || code === 1, `flock(1) failed with code ${code}: ${stderr}`);
  return code;
}

// Python's fcntl.flock on the lock file (opened O_RDWR|O_CREAT), without waiting: prints
// "locked" and exits 0 if it got the lock, prints "blocked" and exits 1 on BlockingIOError.
const pythonTry = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
op = fcntl.LOCK_SH if sys.argv[2] == 'sh' else fcntl.LOCK_EX
try:
    fcntl.flock(fd, op | fcntl.LOCK_NB)
except BlockingIOError:
    print('blocked')
    sys.exit(1)
print('locked')
`;

/** Python trying `mode` ('ex' or 'sh') on `lockfile` without waiting: 'locked' or 'blocked'. */
async function pythonNow(lockfile, mode = 'ex') {
  const { code, stdout, stderr } = await run('python3', ['-c', pythonTry, lockfile, mode]);
  const said = stdout.trim();
  assert.ok((code === 0 && said === 'locked') || (code === 1 && said === 'blocked'), `python3 exited ${code} saying ${JSON.stringify(said)}: ${stderr}`);
  return said;
}

// A Python process that holds fcntl.flock(`mode`) on the lock file: says "locked" once it holds
// it, waits for a line on stdin, unlocks, says "released" and exits.
const pythonHold = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == 'sh' else fcntl.LOCK_EX)
print('locked', flush=True)
sys.stdin.readline()
fcntl.flock(fd, fcntl.LOCK_UN)
print('released', flush=True)
`;

async function pythonHolder(t, lockfile, mode = 'ex') {
  const child = spawnChild(t, 'python3', ['-c', pythonHold, lockfile, mode]);
  await child.next('locked');
  return child;
}

/** Tells a peer holder to let go, and checks it exited cleanly. */
async function letGo(child) {
  child.send('go');
  const { code, signal } = await child.exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `the peer failed: ${child.stderr}`);
}

/**
 * While `peer` holds the lock exclusively, every try of ours fails and lock() waits; once the peer
 * lets go, that lock() is granted, exclusive. Resolves with its handle.
 */
async function excludedUntilLetGo(path, peer, who) {
  assert.equal(await tryLock(path, FLOCK), null);
  assert.equal(tryLockSync(path, FLOCK), null);
  assert.equal(await tryLock(path, SHARED), null);
  const waiting = lock(path, FLOCK);
  const state = track(waiting);
  await delay(200);
  assert.equal(state.settled, false, `lock() was granted while ${who} held the lock`);
  await letGo(peer);
  const handle = await waiting;
  assert.equal(handle.shared, false);
  return handle;
}

test('a lock held by flock(1) makes our tryLock return null, and our lock() waits until flock(1) lets go', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const peer = spawnChild(t, 'flock', ['-x', lockfile, 'sh', '-c', 'echo locked; read line']);
  await peer.next('locked');

  const handle = await excludedUntilLetGo(path, peer, 'flock(1)');
  assert.equal(handle.lockfilePath, lockfile);
  handle.release();
});

test('while we hold the lock flock -n fails with exit code 1, and succeeds once we release', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const handle = await lock(path, FLOCK);
  assert.equal(await flockNow(lockfile, '-x'), 1, 'flock -n -x got a lock we hold');
  assert.equal(await flockNow(lockfile, '-s'), 1, 'flock -n -s got a lock we hold exclusively');
  handle.release();
  assert.equal(await flockNow(lockfile, '-x'), 0);
  assert.equal(await flockNow(lockfile, '-s'), 0);
});

test('our shared lock admits flock -s and refuses flock -x', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const handle = await lock(path, SHARED);
  assert.equal(handle.shared, true);
  assert.equal(await flockNow(lockfile, '-s'), 0, 'flock -n -s was refused next to our shared lock');
  assert.equal(await flockNow(lockfile, '-x'), 1, 'flock -n -x got a lock we hold shared');
  handle.release();
  assert.equal(await flockNow(lockfile, '-x'), 0);
});

test('flock(1) waiting for our lock is let in when we release', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const handle = await lock(path, FLOCK);
  // -w bounds the peer's wait: if we never let go it fails rather than hangs.
  const peer = spawnChild(t, 'flock', ['-w', '10', '-x', lockfile, 'sh', '-c', 'echo locked']);
  let peerLocked = false;
  const locked = peer.next('locked').then(() => (peerLocked = true));
  await delay(200);
  assert.equal(peerLocked, false, 'flock(1) got the lock while we held it');
  handle.release();
  await locked;
  assert.equal((await peer.exited).code, 0);
});

test("while we hold the lock Python's fcntl.flock with LOCK_NB raises BlockingIOError, and succeeds once we release", { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const handle = await lock(path, FLOCK);
  assert.equal(await pythonNow(lockfile, 'ex'), 'blocked', 'Python got LOCK_EX on a lock we hold');
  assert.equal(await pythonNow(lockfile, 'sh'), 'blocked', 'Python got LOCK_SH on a lock we hold exclusively');
  handle.release();
  assert.equal(await pythonNow(lockfile, 'ex'), 'locked');
  assert.equal(await pythonNow(lockfile, 'sh'), 'locked');
});

test("a lock held by Python's fcntl.flock makes our tryLock return null, and our lock() waits until Python unlocks", { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const peer = await pythonHolder(t, lockfile, 'ex');

  const handle = await excludedUntilLetGo(path, peer, 'Python');
  assert.equal(handle.lockfilePath, lockfile);
  handle.release();
});

test("Python's LOCK_SH and our shared lock are held at once, and both refuse our exclusive tryLock", { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const peer = await pythonHolder(t, lockfile, 'sh');

  assert.equal(await tryLock(path, FLOCK), null, 'our exclusive tryLock got a lock Python holds shared');
  assert.equal(tryLockSync(path, FLOCK), null, 'our exclusive tryLockSync got a lock Python holds shared');
  const reader = await tryLock(path, SHARED);
  assert.ok(reader, "our shared tryLock was refused next to Python's LOCK_SH");
  assert.equal(reader.shared, true);
  // Both shared holders now; Python lets go, and ours alone still keeps writers out.
  assert.equal(await pythonNow(lockfile, 'ex'), 'blocked');
  await letGo(peer);
  assert.equal(await pythonNow(lockfile, 'ex'), 'blocked', 'Python got LOCK_EX on a lock we hold shared');
  assert.equal(await pythonNow(lockfile, 'sh'), 'locked', 'Python was refused LOCK_SH next to our shared lock');
  reader.release();
  const writer = await tryLock(path, FLOCK);
  assert.ok(writer, 'our exclusive tryLock was refused after every shared holder let go');
  writer.release();
});
