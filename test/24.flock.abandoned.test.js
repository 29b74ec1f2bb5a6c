// Waits given up on (timeout, abort) while another process holds the lock: the threads and
// descriptors they leave behind are bounded by the lock files waited on, not by the attempts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { moduleFile, spawnChild } from './helpers/children.js';
import { needs, testWhere } from './helpers/platform.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

const test = testWhere(needs.flock, needs.flockCommand, needs.bash, needs.proc);

// Runs in a child under `ulimit -n 256`: 2,000 attempts of every kind that gives up, then the
// threads and descriptors left, and whether an unrelated file can still be read.
const attempts = (path, other) => `
  import { readdirSync, readFileSync } from 'node:fs';
  import { lock, lockSync, LockTimeoutError } from ${JSON.stringify(entry)};
  const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = { threads: threads(), fds: fds() };
  let timeouts = 0, aborts = 0;
  for (let round = 0; round < 500; round++) {
    for (const file of [${JSON.stringify(path)}, ${JSON.stringify(other)}]) {
      await lock(file, { timeout: 1 }).catch((e) => { if (!(e instanceof LockTimeoutError)) throw e; timeouts++; });
      await lock(file, { timeout: 1, shared: true }).catch((e) => { if (!(e instanceof LockTimeoutError)) throw e; timeouts++; });
      const controller = new AbortController();
      const pending = lock(file, { signal: controller.signal });
      setImmediate(() => controller.abort());
      await pending.catch((e) => { if (e.name !== 'AbortError') throw e; aborts++; });
      try { lockSync(file, { timeout: 1 }); } catch (e) { if (!(e instanceof LockTimeoutError)) throw e; timeouts++; }
    }
  }
  readFileSync(${JSON.stringify(entry)});
  console.log(JSON.stringify({ event: 'counts', timeouts, aborts, before, after: { threads: threads(), fds: fds() } }));
  process.exit(0);
`;

test('4,000 timed-out, aborted and sync attempts on two held lock files leave a bounded number of threads and descriptors', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  const other = join(dir, 'b.json');
  for (const file of [path, other]) {
    // One process that is flock(1)'s holder and then the sleeper: killing it ends the hold.
    const holder = spawnChild(t, 'bash', ['-c', 'exec 9>>"$1" && flock -x 9 && echo held && exec sleep 600', 'holder', `${file}.lock`]);
    await holder.next('held');
  }
  const child = spawnChild(t, 'bash', ['-c', 'ulimit -n 256 && exec "$@"', 'bash', process.execPath, moduleFile(attempts(path, other))]);
  const { timeouts, aborts, before, after } = await child.next('counts');
  t.diagnostic(`threads ${before.threads} -> ${after.threads}, descriptors ${before.fds} -> ${after.fds}`);
  assert.equal(timeouts, 3000);
  assert.equal(aborts, 1000);
  // One parked wait per lock file and kind of lock (exclusive, shared), and a little slack.
  assert.ok(after.threads <= before.threads + 6, `threads grew from ${before.threads} to ${after.threads}`);
  assert.ok(after.fds <= before.fds + 6, `descriptors grew from ${before.fds} to ${after.fds}`);
});

// Runs in a child: gives up waits of each kind, then waits for real (async and sync) once the
// holder is told to go; what it got must be a real kernel lock.
const adopter = (path) => `
  import { createInterface } from 'node:readline';
  import { lock, lockSync } from ${JSON.stringify(entry)};
  const say = (event, extra = {}) => console.log(JSON.stringify({ event, ...extra }));
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const told = () => lines.next();
  for (let i = 0; i < 20; i++) await lock(${JSON.stringify(path)}, { timeout: 1 }).catch(() => {});
  try { lockSync(${JSON.stringify(path)}, { timeout: 1 }); } catch {}
  say('gave-up');
  const handle = await lock(${JSON.stringify(path)});
  say('async-held');
  await told();
  handle.release();
  say('released');
  await told();
  for (let i = 0; i < 20; i++) await lock(${JSON.stringify(path)}, { timeout: 1 }).catch(() => {});
  say('gave-up-again');
  const again = lockSync(${JSON.stringify(path)}, { timeout: 20_000 });
  say('sync-held');
  await told();
  again.release();
  say('released');
  process.exit(0);
`;

test('a wait that takes over given-up waits holds a real kernel lock, async and sync, and releases it', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  const lockfile = `${path}.lock`;
  const flockNow = () => spawnSync('flock', ['-n', '-x', lockfile, 'true']).status;
  const hold = () => spawnChild(t, 'bash', ['-c', 'exec 9>>"$1" && flock -x 9 && echo held && read line && exit 0', 'holder', lockfile]);
  let holder = hold();
  await holder.next('held');
  const child = spawnChild(t, process.execPath, [moduleFile(adopter(path))]);
  await child.next('gave-up');
  holder.send();
  await holder.exited;
  await child.next('async-held');
  assert.equal(flockNow(), 1, 'flock -n got the lock while the adopted async wait held it');
  child.send();
  await child.next('released');
  holder = hold();
  await holder.next('held');
  child.send();
  await child.next('gave-up-again');
  holder.send();
  await holder.exited;
  await child.next('sync-held');
  assert.equal(flockNow(), 1, 'flock -n got the lock while the adopted sync wait held it');
  child.send();
  await child.next('released');
  assert.equal(flockNow(), 0);
});
