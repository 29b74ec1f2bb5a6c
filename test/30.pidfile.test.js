// The pid-file backend: the lock is the existence of `<path>.lock`, holding its holder's record.
// No kernel drops it when the holder dies, so these tests are about staleness: a dead holder's
// lock is taken over at once, a live one's never, one from another host only once it has gone
// `stale` ms without a refresh, and of many processes that find one stale lock exactly one wins.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { LockTimeoutError, getMetrics, lock, tryLock } from 'lockedfile';
import { holdLock, holder, moduleFile, releaseAndWait, runNode, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { track, untilTestEnds, within } from './helpers/promises.js';
import { entry } from './helpers/package.js';

const PIDFILE = { backend: 'pidfile' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A file to lock in a fresh folder, and its lock file. */
function paths(t) {
  const dir = tempDir(t);
  const path = join(dir, 'state.json');
  return { dir, path, lockfile: `${path}.lock` };
}

/** Our pid namespace, as records written here carry it (Linux). */
const PIDNS = process.platform === 'linux' ? { pidns: readlinkSync('/proc/self/ns/pid') } : {};

/** Writes a holder record into `lockfile`, as a holder would, its mtime `ageMs` in the past. */
function plant(lockfile, record, ageMs = 0) {
  const text = typeof record === 'string' ? record : `${JSON.stringify({ command: 'node planted.js', since: Date.now(), nonce: randomUUID(), ...PIDNS, ...record })}\n`;
  writeFileSync(lockfile, text, { mode: 0o600 });
  if (ageMs) {
    const then = new Date(Date.now() - ageMs);
    utimesSync(lockfile, then, then);
  }
  return text;
}

/** The pid of a process that has run and exited (and been reaped) on this host, and when it started. */
async function deadProcess() {
  const started = Date.now();
  const proc = spawn('true', [], { stdio: 'ignore' });
  await once(proc, 'exit');
  return { pid: proc.pid, started };
}

/**
 * A process that stays alive until the test ends, and its start time as it records it: a real
 * holder's record, taken from the lock it holds on another file in `dir`.
 */
async function liveProcess(t, dir) {
  const other = join(dir, 'other.json');
  const child = await holdLock(t, other, { backend: 'flock' });
  const { pid, started } = JSON.parse(readFileSync(`${other}.lock`, 'utf8'));
  assert.equal(pid, child.pid);
  return { pid, started };
}

/** Collects `lockedfile:takeover` messages while the test runs. */
function takeovers(t) {
  const seen = [];
  const listener = (message) => seen.push(message);
  subscribe('lockedfile:takeover', listener);
  t.after(() => unsubscribe('lockedfile:takeover', listener));
  return seen;
}

test('processes incrementing one counter under pid-file locks lose no update and never overlap', { timeout: 30_000 }, async (t) => {
  const { dir, path } = paths(t);
  const counter = join(dir, 'counter');
  writeFileSync(counter, '0');
  const children = Array.from({ length: 4 }, () => holder(t, 'increment', { path, counter, times: 25, opts: PIDFILE }));
  const reports = await Promise.all(children.map((child) => child.next('done')));
  assert.equal(Number(readFileSync(counter, 'utf8')), 100);
  assert.deepEqual(
    reports.map((report) => report.overlaps),
    [0, 0, 0, 0],
  );
  await Promise.all(children.map((child) => child.exited));
  assert.equal(existsSync(`${path}.lock`), false, 'the pid file outlived every holder');
});

test("while held, the pid file holds the holder's pid, hostname, start time, since and nonce as JSON; it is created 0600 and removed on release", async (t) => {
  const { path, lockfile } = paths(t);
  const spawnedAt = Date.now();
  const child = await holdLock(t, path, PIDFILE);
  const lockedAt = Date.now();
  const record = JSON.parse(readFileSync(lockfile, 'utf8'));
  assert.equal(record.pid, child.pid);
  assert.equal(record.hostname, hostname());
  assert.ok(record.started >= spawnedAt - 2000 && record.started <= lockedAt, `started ${record.started} is not the child's start (${spawnedAt}..${lockedAt})`);
  assert.ok(record.since >= spawnedAt && record.since <= lockedAt, `since ${record.since} is not when the child locked (${spawnedAt}..${lockedAt})`);
  assert.match(record.nonce, UUID);
  assert.match(record.command, /holder\.js/);
  assert.equal(statSync(lockfile).mode & 0o777, 0o600);
  assert.equal(await tryLock(path, PIDFILE), null, 'we took a pid-file lock a live process holds');
  assert.equal(readFileSync(lockfile, 'utf8'), `${JSON.stringify(record)}\n`, 'a refused tryLock changed the pid file');

  await releaseAndWait(child);
  assert.equal(existsSync(lockfile), false, 'the pid file is still there after release');

  // Each acquisition writes its own nonce; opts.mode is honoured.
  const umask = process.umask(0o022);
  t.after(() => process.umask(umask));
  const mine = await lock(path, { ...PIDFILE, lockfileMode: 0o640 });
  const ours = JSON.parse(readFileSync(lockfile, 'utf8'));
  assert.equal(ours.pid, process.pid);
  assert.match(ours.nonce, UUID);
  assert.notEqual(ours.nonce, record.nonce);
  assert.equal(statSync(lockfile).mode & 0o777, 0o640);
  mine.release();
  assert.equal(existsSync(lockfile), false);
});

test("a SIGKILLed holder's pid file goes to our waiting lock() within 500 ms of the kill; takeovers and lockedfile:takeover name the dead holder", { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const seen = takeovers(t);
  const child = await holdLock(t, path, PIDFILE);
  const before = getMetrics().takeovers;
  const waiting = lock(path, { ...PIDFILE, signal: untilTestEnds(t) });
  const state = track(waiting);
  await delay(300);
  assert.equal(state.settled, false, 'lock() settled while the holder was alive');
  assert.equal(getMetrics().takeovers, before);

  const killedAt = performance.now();
  child.proc.kill('SIGKILL');
  const handle = await within(waiting, 10_000, 'the takeover');
  const ms = performance.now() - killedAt;
  t.diagnostic(`taken over ${ms.toFixed(1)} ms after SIGKILL`);
  assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' });
  assert.ok(ms < 500, `the takeover took ${ms.toFixed(1)} ms after the holder was killed`);
  assert.equal(handle.backend, 'pidfile');
  assert.equal(getMetrics().takeovers, before + 1);
  assert.equal(seen.length, 1, `takeover messages: ${JSON.stringify(seen)}`);
  assert.match(seen[0].holder, new RegExp(`^pid ${child.pid} \\(\\S+ holder\\.js hold .*\\) on host ${hostname()} since `));
  assert.equal(seen[0].lockfilePath, lockfile);
  assert.equal(seen[0].path, path);
  assert.equal(seen[0].backend, 'pidfile');
  assert.equal(seen[0].pid, process.pid);
  assert.equal(JSON.parse(readFileSync(lockfile, 'utf8')).pid, process.pid);
  handle.release();
  assert.equal(existsSync(lockfile), false);
});

test('a SIGKILLed holder that its parent has not reaped yet (a zombie) is dead: its pid file is taken over', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  // sh starts the holder in the background and then becomes `sleep`, which never reaps it: once
  // killed, the holder stays a zombie (as under a busy parent, or a container's init that never waits).
  const code = `
    import { lock } from ${JSON.stringify(entry)};
    await lock(process.argv[2], { backend: 'pidfile' });
    console.log(JSON.stringify({ event: 'locked', pid: process.pid }));
    setInterval(() => {}, 1000);`;
  const parent = spawnChild(t, 'sh', ['-c', '"$@" & exec sleep 60', 'sh', process.execPath, moduleFile(code), path]);
  const { pid } = await parent.next('locked');
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  });
  assert.equal(JSON.parse(readFileSync(lockfile, 'utf8')).pid, pid);
  assert.equal(await tryLock(path, PIDFILE), null);

  process.kill(pid, 'SIGKILL');
  const zombie = () => readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.[0] === 'Z';
  const deadline = performance.now() + 5000;
  while (!zombie()) {
    assert.ok(performance.now() < deadline, 'the killed holder never became a zombie');
    await delay(5);
  }
  const handle = await lock(path, { ...PIDFILE, timeout: 2000 }).catch((error) => error);
  assert.ok(!(handle instanceof Error), `the pid file of a killed (zombie) holder was not taken over: ${handle.message}`);
  assert.equal(JSON.parse(readFileSync(lockfile, 'utf8')).pid, process.pid);
  handle.release();
});

test('a pid file naming a dead process on this host is taken over at once', async (t) => {
  const { path, lockfile } = paths(t);
  const seen = takeovers(t);
  const dead = await deadProcess();
  plant(lockfile, { pid: dead.pid, hostname: hostname(), started: dead.started });
  const before = getMetrics().takeovers;
  const handle = await tryLock(path, PIDFILE);
  assert.ok(handle, 'tryLock refused a lock whose holder is dead');
  assert.equal(getMetrics().takeovers, before + 1);
  assert.equal(seen.length, 1);
  assert.match(seen[0].holder, new RegExp(`^pid ${dead.pid} \\(node planted\\.js\\) on host ${hostname()} since `));
  const record = JSON.parse(readFileSync(lockfile, 'utf8'));
  assert.equal(record.pid, process.pid);
  assert.equal(statSync(lockfile).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(join(lockfile, '..')), ['state.json.lock'], 'the takeover left files behind');
  handle.release();
  assert.equal(existsSync(lockfile), false);
});

test('a pid file naming a live process on this host is respected: tryLock gets null, lock() times out naming it, the file is untouched', async (t) => {
  const { dir, path, lockfile } = paths(t);
  const live = await liveProcess(t, dir);
  const before = getMetrics().takeovers;
  for (const record of [
    { pid: live.pid, hostname: hostname(), started: live.started },
    // A record without a start time (an older writer): the pid alone says it is alive.
    { pid: process.ppid, hostname: hostname() },
  ]) {
    const text = plant(lockfile, record);
    assert.equal(await tryLock(path, PIDFILE), null, `tryLock took the lock of live pid ${record.pid}`);
    const error = await lock(path, { ...PIDFILE, timeout: 200 }).catch((caught) => caught);
    assert.ok(error instanceof LockTimeoutError, `lock() did not time out: ${error}`);
    assert.match(error.holder, new RegExp(`^pid ${record.pid} `));
    assert.equal(readFileSync(lockfile, 'utf8'), text, 'the pid file of a live holder was changed');
  }
  assert.equal(getMetrics().takeovers, before);
});

test('a pid file naming a live pid with another start time (the pid was reused) is taken over', async (t) => {
  const { dir, path, lockfile } = paths(t);
  const live = await liveProcess(t, dir);
  plant(lockfile, { pid: live.pid, hostname: hostname(), started: live.started - 3_600_000 });
  const handle = await tryLock(path, PIDFILE);
  assert.ok(handle, 'a record whose pid now belongs to a younger process was respected');
  assert.equal(JSON.parse(readFileSync(lockfile, 'utf8')).pid, process.pid);
  handle.release();
});

test("a pid file from another host is respected until `stale` ms pass without a refresh, then taken over", { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const seen = takeovers(t);
  const elsewhere = { pid: process.pid, hostname: 'elsewhere', started: Date.now() - 60_000 };

  // Fresh: respected, with the default stale (10 s) and a shorter one; even our own pid means
  // nothing on another host.
  const text = plant(lockfile, elsewhere);
  assert.equal(await tryLock(path, PIDFILE), null);
  assert.equal(await tryLock(path, { ...PIDFILE, stale: 5000 }), null);
  assert.equal(readFileSync(lockfile, 'utf8'), text);
  // 20 s without a refresh: stale by the default, not by a 60 s stale.
  const then = new Date(Date.now() - 20_000);
  utimesSync(lockfile, then, then);
  assert.equal(await tryLock(path, { ...PIDFILE, stale: 60_000 }), null);
  const handle = await tryLock(path, PIDFILE);
  assert.ok(handle, 'a remote lock 20 s without refresh was respected with the default stale of 10 s');
  assert.equal(seen.length, 1);
  assert.match(seen[0].holder, /on host elsewhere /);
  handle.release();

  // A waiting lock() with stale: 400 gets a fresh remote lock only once it is 400 ms old.
  plant(lockfile, elsewhere);
  const plantedAt = statSync(lockfile).mtimeMs;
  const waiting = lock(path, { ...PIDFILE, stale: 400, signal: untilTestEnds(t) });
  const state = track(waiting);
  await delay(200);
  assert.equal(state.settled, false, 'a remote lock was taken over 200 ms into a 400 ms stale');
  const later = await within(waiting, 5000, 'the takeover of the stale remote lock');
  const age = Date.now() - plantedAt;
  t.diagnostic(`remote lock taken over when ${age.toFixed(0)} ms old (stale: 400)`);
  assert.ok(age >= 400, `taken over when only ${age} ms old`);
  assert.ok(age < 2000, `taken over only when ${age} ms old`);
  assert.equal(seen.length, 2);
  later.release();
});

test('a live pid-file holder refreshes the mtime of its lock file every stale/3 ms, leaving the record as it was', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const child = await holdLock(t, path, { ...PIDFILE, stale: 300 });
  const text = readFileSync(lockfile, 'utf8');
  const mtimes = new Set();
  let oldest = 0;
  for (let sample = 0; sample < 25; sample++) {
    const { mtimeMs } = statSync(lockfile);
    mtimes.add(mtimeMs);
    oldest = Math.max(oldest, Date.now() - mtimeMs);
    await delay(40);
  }
  t.diagnostic(`${mtimes.size} distinct mtimes over 1 s; oldest seen ${oldest.toFixed(0)} ms`);
  const sorted = [...mtimes];
  assert.ok(mtimes.size >= 4, `the mtime moved only ${mtimes.size - 1} times in 1 s (refresh every 100 ms)`);
  assert.deepEqual(sorted, [...sorted].sort((a, b) => a - b), 'the mtime went backwards');
  assert.ok(Date.now() - statSync(lockfile).mtimeMs < 1000);
  assert.equal(readFileSync(lockfile, 'utf8'), text, 'the refresh rewrote the record');
  await releaseAndWait(child);
  assert.equal(existsSync(lockfile), false);
});

test('taking over a stale pid file is race-free: of 8 processes that find the same dead record at once, exactly one wins (10 rounds)', { timeout: 30_000 }, async (t) => {
  const { dir, path, lockfile } = paths(t);
  const dead = await deadProcess();
  const children = Array.from({ length: 8 }, () => holder(t, 'tryRounds', { path, opts: PIDFILE }));
  await Promise.all(children.map((child) => child.next('ready')));
  const wins = [];
  for (let round = 0; round < 10; round++) {
    plant(lockfile, { pid: dead.pid, hostname: hostname(), started: dead.started });
    // Every child tries at the same moment, a little ahead, so that they all find the dead record.
    const at = Date.now() + 100;
    for (const child of children) child.send(String(at));
    const tried = await Promise.all(children.map((child) => child.next('tried')));
    const winners = tried.filter((report) => report.got);
    assert.equal(winners.length, 1, `round ${round}: ${winners.length} processes took over the same stale lock`);
    wins.push(children.findIndex((child) => child.pid === winners[0].pid));
    assert.equal(JSON.parse(readFileSync(lockfile, 'utf8')).pid, winners[0].pid, 'the pid file does not name the winner');
    assert.deepEqual(readdirSync(dir), ['state.json.lock'], `round ${round}: the takeover left files behind`);
    for (const child of children) child.send('release');
    await Promise.all(children.map((child) => child.next('released')));
    assert.equal(existsSync(lockfile), false, `round ${round}: the winner's release left the pid file`);
  }
  t.diagnostic(`winner (by start order) in each round: ${wins.join(', ')}`);
  for (const child of children) child.proc.stdin.end();
  await Promise.all(children.map((child) => child.exited));
});

test("a lock file that is not a lockedfile record (another tool's: Gemfile.lock, flock(1)'s empty file, control characters) is refused with ELOCKFOREIGN naming it and opts.lockfilePath, and left byte-identical", async (t) => {
  // ...and a record whose command would put an escape sequence into messages and terminals.
  const escaping = JSON.stringify({ pid: process.pid, hostname: 'h', started: 1, command: 'x\u001b[2J\nforged line' });
  for (const contents of ['GEM\n  remote: https://rubygems.org/\n', '{"pid":', '{"pid":1,"hostname":"h","nonce":"x/../../../etc/NAME"}', escaping, '']) {
    const { dir, path, lockfile } = paths(t);
    plant(lockfile, contents, 5000);
    const error = await lock(path, { ...PIDFILE, timeout: 2000 }).catch((caught) => caught);
    assert.equal(error.code, 'ELOCKFOREIGN', `${JSON.stringify(contents)}: ${error}`);
    assert.equal(error.path, path);
    assert.equal(error.lockfilePath, lockfile);
    assert.ok(error.message.includes(lockfile) && error.message.includes('opts.lockfilePath'), error.message);
    assert.equal(readFileSync(lockfile, 'utf8'), contents, 'the foreign lock file was changed');
    assert.deepEqual(readdirSync(dir), ['state.json.lock'], 'files were left beside it');
  }
});

test('LOCKEDFILE_BACKEND=pidfile makes a plain lock() in a child use a pid file; an explicit opts.backend still wins', { timeout: 20_000 }, async (t) => {
  const { dir, path, lockfile } = paths(t);
  const env = { ...process.env, LOCKEDFILE_BACKEND: 'pidfile' };
  const child = holder(t, 'hold', { path, opts: {} }, { env });
  assert.equal((await child.next('locked')).backend, 'pidfile');
  const record = JSON.parse(readFileSync(lockfile, 'utf8'));
  assert.equal(record.pid, child.pid);
  assert.match(record.nonce, UUID, 'the lock file is not a pid file (no nonce)');
  assert.equal(await tryLock(path, PIDFILE), null);
  await releaseAndWait(child);
  assert.equal(existsSync(lockfile), false, 'the pid file was not removed on release');

  const other = join(dir, 'other.json');
  const explicit = holder(t, 'hold', { path: other, opts: { backend: 'flock' } }, { env });
  assert.equal((await explicit.next('locked')).backend, 'flock');
  assert.equal(JSON.parse(readFileSync(`${other}.lock`, 'utf8')).nonce, undefined, 'opts.backend flock made a pid file');
  await releaseAndWait(explicit);
  assert.ok(existsSync(`${other}.lock`), 'a flock lock file is never removed');
});

test('an invalid LOCKEDFILE_BACKEND is a TypeError naming LOCKEDFILE_BACKEND, from every call, and nothing is created', async (t) => {
  const { dir, path } = paths(t);
  const code = `
    import { lock, lockSync, tryLock } from ${JSON.stringify(entry)};
    const path = ${JSON.stringify(path)};
    const report = (error) => ({ name: error.constructor.name, message: error.message });
    const out = {};
    out.lock = await lock(path).then(() => 'locked', report);
    out.tryLock = await tryLock(path).then(() => 'locked', report);
    try { lockSync(path); out.lockSync = 'locked'; } catch (error) { out.lockSync = report(error); }
    const explicit = await lock(path, { backend: 'flock' });
    out.explicit = explicit.backend;
    explicit.release();
    console.log(JSON.stringify(out));`;
  const { code: exitCode, stdout, stderr } = await runNode(code, { env: { ...process.env, LOCKEDFILE_BACKEND: 'fcntl' } });
  assert.equal(exitCode, 0, stderr);
  const out = JSON.parse(stdout);
  for (const call of ['lock', 'tryLock', 'lockSync']) {
    assert.equal(out[call].name, 'TypeError', `${call}: ${JSON.stringify(out[call])}`);
    assert.match(out[call].message, /LOCKEDFILE_BACKEND is "fcntl"; use 'auto', 'flock' or 'pidfile'/);
  }
  assert.equal(out.explicit, 'flock', 'an explicit opts.backend did not override the invalid LOCKEDFILE_BACKEND');
  assert.deepEqual(readdirSync(dir), ['state.json.lock'], 'only the explicit flock lock created a file');
});

test('pid-file holders stopped (SIGSTOP) for 1.2 s at random moments, acquiring or holding, are never taken over: no overlap, no lost increment', { timeout: 60_000 }, async (t) => {
  const { dir, path } = paths(t);
  const counter = join(dir, 'counter');
  writeFileSync(counter, '0');
  const children = Array.from({ length: 2 }, () => holder(t, 'increment', { path, counter, times: 600, opts: PIDFILE }));
  const finished = Promise.all(children.map((child) => child.next('done')));
  let stops = 0;
  for (; stops < 6; stops++) {
    await delay(50 + Math.random() * 150);
    const victim = children[stops % 2];
    if (victim.proc.exitCode !== null) break;
    victim.signal('SIGSTOP');
    await delay(1200);
    victim.signal('SIGCONT');
  }
  const reports = await within(finished, 45_000, 'the increments');
  assert.deepEqual(reports.map((report) => report.overlaps), [0, 0]);
  assert.equal(Number(readFileSync(counter, 'utf8')), 1200);
  t.diagnostic(`${stops} stops`);
});

test('a pid-file holder in another pid namespace on this host (unshare --pid) is respected while it refreshes, and taken over once it stops', { timeout: 30_000 }, async (t) => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return t.skip('needs Linux and root to make a pid namespace');
  const { path, lockfile } = paths(t);
  const holderScript = fileURLToPath(new URL('./helpers/holder.js', import.meta.url));
  const opts = { ...PIDFILE, stale: 600 };
  const child = spawnChild(t, 'unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, holderScript, 'hold', JSON.stringify({ path, opts })]);
  await child.next('locked');
  const record = JSON.parse(readFileSync(lockfile, 'utf8'));
  assert.notEqual(record.pidns, PIDNS.pidns, 'the holder did not run in another pid namespace');
  // Its pid means something else here (pid 1 is our init): it must not be judged by it.
  const error = await lock(path, { ...opts, timeout: 1500 }).catch((caught) => caught);
  assert.ok(error instanceof LockTimeoutError, `a live holder in another pid namespace was taken over: ${error}`);
  assert.equal(JSON.parse(readFileSync(lockfile, 'utf8')).nonce, record.nonce);
  await child.kill('SIGKILL');
  const handle = await within(lock(path, { ...opts, signal: untilTestEnds(t) }), 5000, 'the takeover once the holder stopped refreshing');
  handle.release();
});
