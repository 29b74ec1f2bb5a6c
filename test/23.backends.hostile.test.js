// Hostile and foreign lock files: a FIFO, another tool's `<name>.lock`, the data file itself,
// a forged record, a read-only mount. Nothing hangs and nothing that is not ours is changed.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { LockError, LockTimeoutError, lock, tryLock, updateFile } from 'lockedfile';
import { moduleFile, runNode, spawnChild } from './helpers/children.js';
import { reachableEntry, reachableRuntime } from './helpers/reachable.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

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
    if (isRoot) users.push({ uid: 65534, gid: 65534, cwd: tmpdir(), runtime: reachableRuntime() });
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

test('flock: a forged record with a path in its nonce is not a record: the timeout names the real holder and no file appears', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.json');
  writeFileSync(`${path}.lock`, `${JSON.stringify({ pid: process.pid, hostname: 'h', started: 1, command: 'x', nonce: '../../../etc/x' })}\n`);
  const holder = spawnChild(t, 'flock', [`${path}.lock`, '-c', 'echo locked; sleep 30']);
  await holder.next('locked');
  const error = await lock(path, { timeout: 100 }).catch((caught) => caught);
  assert.equal(error.code, 'ELOCKTIMEOUT');
  // Named from what the kernel and /proc say, never from the forged record (which names this process).
  assert.match(error.holder, new RegExp(`^pid ${holder.pid} \\(flock a\\.json\\.lock -c `));
  assert.doesNotMatch(error.message, new RegExp(`pid ${process.pid}\\b`));
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

/** flock(1) holding `mode` on `lockfile` until told to go (through its command's stdin). */
async function flockHolder(t, lockfile, mode = '-x') {
  const child = spawnChild(t, 'flock', [mode, lockfile, 'sh', '-c', 'echo held; read line']);
  await child.next('held');
  return child;
}

test('flock: a timeout names the process the kernel says holds the lock, not the live former holder the record names', async (t) => {
  const path = join(tempDir(t), 'data.json');
  // A lockedfile process takes the lock (recording itself), lets it go, and lives on.
  const former = spawnChild(t, process.execPath, [moduleFile(`
    import { lock } from ${JSON.stringify(entry)};
    (await lock(${JSON.stringify(path)}, { backend: 'flock' })).release();
    console.log('released');
    process.stdin.resume();`)]);
  await former.next('released');
  assert.match(readFileSync(`${path}.lock`, 'utf8'), new RegExp(`"pid":${former.pid},`));
  const holder = await flockHolder(t, `${path}.lock`);
  const error = await lock(path, { backend: 'flock', timeout: 50 }).catch((caught) => caught);
  assert.ok(error instanceof LockTimeoutError, String(error));
  assert.match(error.holder, new RegExp(`^pid ${holder.pid} \\(flock -x data\\.json\\.lock sh -c echo held; read line\\) on host \\S+ running since \\d\\d:`));
  assert.doesNotMatch(error.message, new RegExp(`pid ${former.pid}\\b`));
  holder.send();
  await holder.exited;
});

test('flock: every shared holder is named, with its command', async (t) => {
  const path = join(tempDir(t), 'data.json');
  const readers = [await flockHolder(t, `${path}.lock`, '-s'), await flockHolder(t, `${path}.lock`, '-s')];
  const error = await lock(path, { backend: 'flock', timeout: 50 }).catch((caught) => caught);
  assert.ok(error instanceof LockTimeoutError, String(error));
  for (const reader of readers) assert.match(error.holder, new RegExp(`pid ${reader.pid} \\(flock -s data\\.json\\.lock `));
  assert.match(error.holder, /shared/);
  for (const reader of readers) reader.send();
  await Promise.all(readers.map((reader) => reader.exited));
});

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: however often a holder takes and lets go of the lock, a reader of who holds it never sees a half-made or foreign record`, { timeout: 60_000 }, async (t) => {
    const path = join(tempDir(t), 'data.json');
    // Holders with command lines of different lengths, so that records overwrite longer ones.
    const churn = (tag) => spawnChild(t, process.execPath, [moduleFile(`
      import { lock } from ${JSON.stringify(entry)};
      console.log('started');
      for (const end = Date.now() + 1500; Date.now() < end; ) (await lock(${JSON.stringify(path)}, { backend: '${backend}' })).release();
      console.log('done');`), tag]);
    const holders = [churn('a'), churn('a-much-longer-command-line-argument-than-the-other-one')];
    await Promise.all(holders.map((holder) => holder.next('started')));
    const pids = holders.map((holder) => holder.pid);
    const seen = { named: 0, unknown: 0, self: 0 };
    const finished = Promise.all(holders.map((holder) => holder.next('done')));
    let done = false;
    finished.then(() => (done = true));
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve)); // lets the holders' lines in
      const error = await lock(path, { backend, timeout: 0 }).then((handle) => handle.release(), (caught) => caught);
      if (error === undefined) continue;
      // A record caught half made would be refused as another tool's file (ELOCKFOREIGN).
      assert.ok(error instanceof LockTimeoutError, `${error}`);
      if (error.holder === undefined) seen.unknown++;
      else {
        seen.named++;
        // "pid N ...", or "an unknown process (the last recorded holder is pid N ...)" when the
        // kernel lists no holder any more (it let go as we looked).
        const pid = Number(/^(?:an unknown process \(the last recorded holder is )?pid (\d+) /.exec(error.holder)?.[1]);
        // This process too, for an instant: a given-up wait of ours, between the kernel's grant and its drop.
        if (pid === process.pid) seen.self++;
        else assert.ok(pids.includes(pid), `named ${JSON.stringify(error.holder)}, not one of the holders ${pids}`);
      }
    }
    t.diagnostic(`named ${seen.named} holders (${seen.self} times this process), ${seen.unknown} unknown`);
    assert.ok(seen.named > 0);
  });
}

// The data file itself is a FIFO or a device: reading it would wait for a writer for ever (and
// with the read made under the lock, the whole event loop with it) or never end.
test('a FIFO or a device as the data file is refused at once by updateFile, updateJsonc and readJsonc; nothing hangs', async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'data.json');
  execFileSync('mkfifo', [fifo]);
  // A character device like /dev/zero (reads never end), where this user may make one.
  const device = join(dir, 'zero.json');
  if (isRoot) execFileSync('mknod', [device, 'c', '1', '5']);
  const paths = isRoot ? [fifo, device] : [fifo];
  const code = `
    import { readJsonc, updateFile, updateJsonc } from ${JSON.stringify(entry)};
    const ticks = setInterval(() => {}, 5);
    for (const [name, call] of [
      ['updateFile', (path) => updateFile(path, () => 'x', { timeout: 2000 })],
      ['updateJsonc', (path) => updateJsonc(path, (d) => void (d.a = 1), { default: {} })],
      ['readJsonc', (path) => readJsonc(path)],
    ]) {
      for (const path of ${JSON.stringify(paths)}) {
        const started = Date.now();
        try { await call(path); console.log(JSON.stringify({ name, path, done: true })); }
        catch (error) { console.log(JSON.stringify({ name, path, code: error.code, message: error.message, ms: Date.now() - started })); }
      }
    }
    clearInterval(ticks);`;
  const { stdout } = await runNode(code, { timeout: 20_000 });
  const results = stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  assert.equal(results.length, 3 * paths.length, `a call hung: ${stdout}`);
  for (const result of results) {
    assert.equal(result.done, undefined, `${result.name}(${result.path}) did not refuse`);
    assert.ok(result.ms < 1500, `${result.name}(${result.path}) took ${result.ms} ms`);
    assert.ok(result.message.includes(result.path), result.message);
    assert.match(result.message, /not a regular file/);
  }
  assert.deepEqual(readdirSync(dir).sort(), paths.flatMap((path) => [basename(path), `${basename(path)}.lock`]).sort());
});
