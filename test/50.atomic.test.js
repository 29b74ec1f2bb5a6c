import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic } from 'lockedfile';
import { moduleFile, run, runCountingSyncs, spawnChild } from './helpers/children.js';
import { needs, testWhere } from './helpers/platform.js';
import { reachableEntry, reachableRuntime } from './helpers/reachable.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

test('writeFileAtomic writes a new file and replaces an existing one, leaving no temp file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.json');
  await writeFileAtomic(file, '{"a":1}');
  assert.equal(readFileSync(file, 'utf8'), '{"a":1}');
  await writeFileAtomic(file, new TextEncoder().encode('{"a":2}'), { fsync: false });
  assert.equal(readFileSync(file, 'utf8'), '{"a":2}');
  assert.deepEqual(readdirSync(dir), ['a.json']);
});

test('an existing file keeps its mode; a new one gets opts.mode', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.json');
  writeFileSync(file, 'old');
  chmodSync(file, 0o640);
  await writeFileAtomic(file, 'new');
  assert.equal(statSync(file).mode & 0o777, 0o640);
  const umask = process.umask(0);
  t.after(() => process.umask(umask));
  await writeFileAtomic(join(dir, 'b.json'), 'x', { mode: 0o600 });
  assert.equal(statSync(join(dir, 'b.json')).mode & 0o777, 0o600);
});

test('writing through a symlink replaces its target and keeps the link', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'real'));
  const target = join(dir, 'real', 'a.json');
  writeFileSync(target, 'old');
  const link = join(dir, 'a.json');
  symlinkSync(target, link);
  await writeFileAtomic(link, 'new');
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readlinkSync(link), target);
  assert.equal(readFileSync(target, 'utf8'), 'new');
  assert.deepEqual(readdirSync(join(dir, 'real')), ['a.json']);
});

test('bad input fails clearly and touches nothing', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.json');
  writeFileSync(file, 'old');
  await assert.rejects(writeFileAtomic(file, { a: 1 }), /data must be a string or a Uint8Array/);
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'a.json'), 'x'), (error) => {
    assert.equal(error.code, 'ENOENT');
    assert.ok(error.message.includes(join(dir, 'missing', 'a.json')));
    return true;
  });
  mkdirSync(join(dir, 'folder'));
  await assert.rejects(writeFileAtomic(join(dir, 'folder'), 'x'), { code: 'EISDIR' });
  assert.equal(readFileSync(file, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'folder']);
});

test('a disk that fills up mid-write rejects with ENOSPC, keeps the old file whole and leaves no temp file', async (t) => {
  // A 64 KiB tmpfs: a real file system that really fills up. Mounting needs root (CAP_SYS_ADMIN).
  const dir = tempDir(t);
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  if (mounted.code !== 0) return t.skip(`cannot mount a small tmpfs here: ${mounted.stderr.trim()}`);
  // Unmounted before the folder is removed, whatever happens.
  try {
    const file = join(dir, 'a.json');
    const old = 'o'.repeat(20 * 1024);
    writeFileSync(file, old);
    await assert.rejects(writeFileAtomic(file, 'n'.repeat(100 * 1024)), (error) => {
      assert.equal(error.code, 'ENOSPC');
      assert.ok(error.message.includes(file), error.message);
      assert.match(error.message, /The file is unchanged/);
      return true;
    });
    assert.equal(readFileSync(file, 'utf8'), old);
    assert.deepEqual(readdirSync(dir), ['a.json']);
  } finally {
    await run('umount', [dir]);
  }
});

test('a writer SIGKILLed at random moments leaves a whole file, never older than its last acknowledged write', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.txt');
  const padding = 'x'.repeat(256 * 1024);
  writeFileSync(file, `0:${padding}`);
  for (let round = 0; round < 8; round++) {
    const code = `
      import { readFileSync } from 'node:fs';
      import { writeFileAtomic } from ${JSON.stringify(entry)};
      const padding = 'x'.repeat(256 * 1024);
      let n = Number(readFileSync(${JSON.stringify(file)}, 'utf8').split(':')[0]);
      for (;;) {
        n += 1;
        await writeFileAtomic(${JSON.stringify(file)}, n + ':' + padding);
        console.log(n);
      }`;
    const child = spawnChild(t, process.execPath, [moduleFile(code)]);
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    await child.kill('SIGKILL');
    const acknowledged = Math.max(0, ...child.lines.map((line) => Number(line.event ?? line)));
    const [count, rest] = readFileSync(file, 'utf8').split(':');
    assert.equal(rest, padding, `round ${round}: the file is whole`);
    assert.ok(Number(count) >= acknowledged, `round ${round}: file has ${count}, ${acknowledged} was acknowledged`);
  }
});

test('an existing file keeps its owner when the process may set it (root)', async (t) => {
  if (process.getuid() !== 0) return t.skip('only root may give a file to another user');
  const file = join(tempDir(t), 'a.json');
  writeFileSync(file, 'old');
  chownSync(file, 4321, 4322);
  await writeFileAtomic(file, 'new');
  const info = statSync(file);
  assert.equal(readFileSync(file, 'utf8'), 'new');
  assert.deepEqual([info.uid, info.gid], [4321, 4322]);
});

test('a writer that is not root keeps the file\'s group where it belongs to it, and writes anyway where it does not', async (t) => {
  if (process.getuid() !== 0) return t.skip('needs root to run the writer as another user with chosen groups');
  const dir = tempDir(t);
  chmodSync(dir, 0o777);
  const file = join(dir, 'shared.json');
  const write = (groups, text) =>
    run('setpriv', ['--reuid=65534', '--regid=65534', `--groups=${groups}`, ...reachableRuntime(), moduleFile(
      `import { writeFileAtomic } from ${JSON.stringify(reachableEntry())}; await writeFileAtomic(${JSON.stringify(file)}, ${JSON.stringify(text)});`)], { cwd: tmpdir() });
  writeFileSync(file, 'old');
  chownSync(file, 0, 4322);
  chmodSync(file, 0o664);
  const member = await write('4322', 'by a member');
  assert.equal(member.code, 0, member.stderr);
  let info = statSync(file);
  assert.equal(readFileSync(file, 'utf8'), 'by a member');
  assert.deepEqual([info.uid, info.gid, info.mode & 0o7777], [65534, 4322, 0o664], 'the group and mode were not kept');
  // Set-id bits stay only with the owner or group they were set for, as a write in place does.
  chownSync(file, 0, 4322);
  chmodSync(file, 0o6775);
  assert.equal((await write('4322', 'set-id')).code, 0);
  info = statSync(file);
  assert.deepEqual([info.uid, info.gid, info.mode & 0o7777], [65534, 4322, 0o2775], 'set-id bits');
  // In a setgid folder the new file starts with the folder's group: the file's own is put back.
  const setgid = join(dir, 'setgid');
  mkdirSync(setgid);
  chownSync(setgid, 0, 3000);
  chmodSync(setgid, 0o2777);
  const inside = join(setgid, 'kept.json');
  writeFileSync(inside, 'old');
  chownSync(inside, 0, 4322);
  chmodSync(inside, 0o664);
  const inFolder = await run('setpriv', ['--reuid=65534', '--regid=65534', '--groups=4322,3000', ...reachableRuntime(), moduleFile(
    `import { writeFileAtomic } from ${JSON.stringify(reachableEntry())}; await writeFileAtomic(${JSON.stringify(inside)}, 'new');`)], { cwd: tmpdir() });
  assert.equal(inFolder.code, 0, inFolder.stderr);
  assert.equal(statSync(inside).gid, 4322, 'the setgid folder\'s group replaced the file\'s');
  chmodSync(file, 0o664);
  chownSync(file, 0, 4323);
  const stranger = await write('4322', 'by a stranger');
  assert.equal(stranger.code, 0, stranger.stderr);
  info = statSync(file);
  assert.equal(readFileSync(file, 'utf8'), 'by a stranger');
  assert.deepEqual([info.gid, info.mode & 0o7777], [65534, 0o664]);
  assert.deepEqual(readdirSync(dir).sort(), ['setgid', 'shared.json']);
});

// A child that uses up every descriptor it may open (EMFILE is real, no mock) and starts a
// write; it frees some descriptors after `freeAfterMs`, or never when that is -1.
function starvedWriter(file, freeAfterMs) {
  return `
    import { openSync, closeSync } from 'node:fs';
    import { writeFileAtomic } from ${JSON.stringify(entry)};
    const held = [];
    try { for (;;) held.push(openSync('/dev/null', 'r')); } catch (error) { if (error.code !== 'EMFILE') throw error; }
    if (${freeAfterMs} >= 0) setTimeout(() => held.splice(0, 8).forEach((fd) => closeSync(fd)), ${freeAfterMs});
    const started = Date.now();
    try {
      await writeFileAtomic(${JSON.stringify(file)}, 'new');
      console.log(JSON.stringify({ event: 'written', ms: Date.now() - started }));
    } catch (error) {
      console.log(JSON.stringify({ event: 'failed', code: error.code, message: error.message, ms: Date.now() - started }));
    }
    process.exit(0);`;
}

testWhere(needs.bash, needs.runtimeWithoutDescriptors)('EMFILE is transient: the write is retried with backoff until a descriptor is free', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.json');
  writeFileSync(file, 'old');
  const result = await run('bash', ['-c', 'ulimit -n 256 && exec "$@"', 'bash', process.execPath, moduleFile(starvedWriter(file, 50))]);
  const outcome = JSON.parse(result.stdout);
  assert.equal(outcome.event, 'written', result.stdout + result.stderr);
  assert.ok(outcome.ms >= 40, `it waited for a descriptor (${outcome.ms} ms)`);
  assert.equal(readFileSync(file, 'utf8'), 'new');
  assert.deepEqual(readdirSync(dir), ['a.json']);
});

testWhere(needs.bash, needs.runtimeWithoutDescriptors)('EMFILE that lasts gives up after bounded retries: clear error, old file whole, no temp file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.json');
  writeFileSync(file, 'old');
  const result = await run('bash', ['-c', 'ulimit -n 256 && exec "$@"', 'bash', process.execPath, moduleFile(starvedWriter(file, -1))]);
  const outcome = JSON.parse(result.stdout);
  assert.equal(outcome.event, 'failed', result.stdout + result.stderr);
  assert.equal(outcome.code, 'EMFILE');
  assert.ok(outcome.message.includes(file) && outcome.message.includes('The file is unchanged'), outcome.message);
  assert.ok(outcome.ms < 10_000, `bounded (${outcome.ms} ms)`);
  assert.equal(readFileSync(file, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['a.json']);
});

testWhere(needs.strace)("fsync: true syncs the data and the folder, 'data' the data only, false neither; anything else is a TypeError", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.json');
  writeFileSync(file, '{}');
  const syncs = async (call) => {
    const result = await runCountingSyncs(`
      import { updateFile, writeFileAtomic } from ${JSON.stringify(entry)};
      ${call}`, dir);
    assert.equal(result.code, 0, result.stderr);
    return result.syncs;
  };
  for (const [fsync, expected] of [[undefined, 2], [true, 2], ['data', 1], [false, 0]]) {
    const opts = fsync === undefined ? '{}' : `{ fsync: ${JSON.stringify(fsync)} }`;
    assert.equal(await syncs(`await writeFileAtomic(${JSON.stringify(file)}, 'x', ${opts});`), expected, `writeFileAtomic with ${opts}`);
    assert.equal(await syncs(`await updateFile(${JSON.stringify(file)}, (text) => text + 'y', ${opts});`), expected, `updateFile with ${opts}`);
  }
  for (const bad of ['full', 1, null]) {
    await assert.rejects(writeFileAtomic(file, 'z', { fsync: bad }), (error) => error instanceof TypeError && /opts\.fsync/.test(error.message));
  }
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), []);
});
