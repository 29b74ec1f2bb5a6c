// The lockedfile command (dist/cli.js), run as a real process against real peers: flock(1),
// Python's fcntl.flock and lockedfile holders in other processes. It holds the lock while its
// command runs and only then, waits or gives up as told, passes signals on, exits with the
// documented statuses, and `lockedfile status` says who holds a lock without taking it for long.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { holdLock, releaseAndWait, run, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { within } from './helpers/promises.js';
import { needs, testWhere } from './helpers/platform.js';

const test = testWhere(needs.flock, needs.flockCommand, needs.python);

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli.js');
if (!existsSync(cli)) execFileSync('npm', ['run', 'build:ts'], { cwd: root, stdio: 'inherit' });

// The CLI's default backend is the one under test: a LOCKEDFILE_BACKEND in the environment must
// not turn these runs (or the holders they meet) into pid-file runs.
const env = { ...process.env };
delete env.LOCKEDFILE_BACKEND;

/** Runs `lockedfile ...args` to the end: { code, signal, stdout, stderr }. */
function lockedfile(args, options = {}) {
  return run(process.execPath, [cli, ...args], { env, ...options });
}

/** Starts `lockedfile ...args` with piped stdio (the command inherits them); killed when the test ends. */
function startLockedfile(t, args) {
  return spawnChild(t, process.execPath, [cli, ...args], { env });
}

/** Starts `flock [flags] lockfile sh -c 'echo holding; read line'`: holds until a line arrives on stdin. */
async function flockHolder(t, lockfile, flags = [], script = 'echo holding; read line') {
  const child = spawnChild(t, 'flock', [...flags, lockfile, 'sh', '-c', script]);
  await within(child.next('holding'), 10_000, 'flock(1) taking the lock');
  return child;
}

/** Exit code of `flock [flags] -n lockfile true`: 0 if flock(1) could take the lock, 1 if not. */
async function flockTries(lockfile, flags = []) {
  return (await run('flock', [...flags, '-n', lockfile, 'true'])).code;
}

const pythonTry = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print('free')
except BlockingIOError:
    print('held')
`;

/** 'free' if Python's fcntl.flock(LOCK_EX | LOCK_NB) takes the lock, 'held' if it raises. */
async function pythonTries(lockfile) {
  const { code, stdout, stderr } = await run('python3', ['-c', pythonTry, lockfile]);
  assert.equal(code, 0, stderr);
  return stdout.trim();
}

/** A file to lock in a fresh folder, its lock file, and a marker that a command may create. */
function paths(t) {
  const dir = tempDir(t);
  const path = join(dir, 'state.json');
  return { dir, path, lockfile: `${path}.lock`, marker: join(dir, 'ran') };
}

test("the lock is held against flock(1) and Python while the command runs, released when it ends, and the CLI exits with the command's status", { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const child = startLockedfile(t, [path, '--', 'sh', '-c', 'echo running; read line; exit 7']);
  await within(child.next('running'), 10_000, 'the command starting');

  assert.equal(await flockTries(lockfile), 1, 'flock -n took the lock while the command ran');
  assert.equal(await pythonTries(lockfile), 'held', 'fcntl.flock(LOCK_EX|LOCK_NB) took the lock while the command ran');

  child.send();
  assert.deepEqual(await child.exited, { code: 7, signal: null });
  assert.equal(await flockTries(lockfile), 0, 'flock -n could not take the lock after the command ended');
  assert.equal(await pythonTries(lockfile), 'free', 'Python could not take the lock after the command ended');
});

test('the command waits for a flock(1) holder and starts only once it has released', { timeout: 20_000 }, async (t) => {
  const { dir, path, lockfile } = paths(t);
  const released = join(dir, 'released');
  // The holder writes `released` as its last act inside the lock: a command that ran before
  // the release could not print it.
  const holder = await flockHolder(t, lockfile, [], `echo holding; read line; echo by-holder > "${released}"`);
  const child = startLockedfile(t, [path, '--', 'cat', released]);

  await delay(400);
  assert.deepEqual(child.lines, [], 'the command printed while flock(1) held the lock');
  assert.equal(child.proc.exitCode, null, 'the CLI ended while flock(1) held the lock');

  holder.send();
  assert.deepEqual(await holder.exited, { code: 0, signal: null });
  assert.deepEqual(await within(child.exited, 10_000, 'the CLI ending after the release'), { code: 0, signal: null }, child.stderr);
  assert.deepEqual(child.lines, [{ event: 'by-holder' }]);
});

test('--nonblock on a lock held by a lockedfile process exits 75 at once, naming the path and the holder pid, without running the command', { timeout: 20_000 }, async (t) => {
  const { path, lockfile, marker } = paths(t);
  const holder = await holdLock(t, path, {}, { env });

  const startedAt = performance.now();
  const { code, stdout, stderr } = await lockedfile(['--nonblock', path, '--', 'touch', marker]);
  const ms = performance.now() - startedAt;
  t.diagnostic(`--nonblock gave up after ${ms.toFixed(0)} ms`);
  assert.equal(code, 75, stderr);
  assert.equal(stdout, '');
  assert.ok(stderr.includes(path), `the message does not name ${path}: ${stderr}`);
  assert.match(stderr, new RegExp(`held by pid ${holder.pid} `));
  assert.ok(ms < 5000, `--nonblock took ${ms.toFixed(0)} ms to give up`);
  assert.ok(!existsSync(marker), 'the command ran although the lock was not taken');

  // -n is --nonblock, and the holder still has its lock.
  assert.equal((await lockedfile(['-n', path, '--', 'touch', marker])).code, 75);
  assert.ok(!existsSync(marker));
  assert.equal(await flockTries(lockfile), 1);
  await releaseAndWait(holder);
});

test('--timeout 200 on a lock held by flock(1) exits 75 after at least 200 ms, naming the path, without running the command', { timeout: 20_000 }, async (t) => {
  const { path, lockfile, marker } = paths(t);
  const holder = await flockHolder(t, lockfile);

  const startedAt = performance.now();
  const { code, stdout, stderr } = await lockedfile(['--timeout', '200', path, '--', 'touch', marker]);
  const ms = performance.now() - startedAt;
  t.diagnostic(`--timeout 200 gave up after ${ms.toFixed(0)} ms`);
  assert.equal(code, 75, stderr);
  assert.equal(stdout, '');
  assert.ok(ms >= 200, `the CLI gave up after ${ms.toFixed(0)} ms, before its 200 ms timeout`);
  assert.ok(stderr.includes(path), `the message does not name ${path}: ${stderr}`);
  assert.match(stderr, /timed out after \d+ ms/);
  assert.match(stderr, /--timeout/);
  assert.ok(!existsSync(marker), 'the command ran although the lock was not taken');

  holder.send();
  await holder.exited;
});

test('two CLIs with --shared run their commands at the same time; meanwhile flock -x -n fails and flock -s -n succeeds', { timeout: 20_000 }, async (t) => {
  const { dir, path, lockfile } = paths(t);
  // Each command marks itself running and waits (up to 5 s) for the other's mark: if the shared
  // locks excluded each other, the first would give up (exit 3) before the second could start.
  const meet = 'touch "$1"; i=0; while [ ! -e "$2" ]; do i=$((i+1)); [ $i -gt 100 ] && exit 3; sleep 0.05; done; echo together; read line';
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  const first = startLockedfile(t, ['--shared', path, '--', 'sh', '-c', meet, 'sh', a, b]);
  const second = startLockedfile(t, ['-s', path, '--', 'sh', '-c', meet, 'sh', b, a]);
  await within(Promise.all([first.next('together'), second.next('together')]), 10_000, 'both shared commands running at once');

  assert.equal(await flockTries(lockfile, ['-x']), 1, 'flock -x -n took the lock while two CLIs held it shared');
  assert.equal(await flockTries(lockfile, ['-s']), 0, 'flock -s -n was refused while only shared holders held the lock');

  first.send();
  second.send();
  assert.deepEqual(await first.exited, { code: 0, signal: null }, first.stderr);
  assert.deepEqual(await second.exited, { code: 0, signal: null }, second.stderr);
  assert.equal(await flockTries(lockfile, ['-x']), 0, 'the lock stayed held after both commands ended');
});

test('a command ended by a signal N makes the CLI exit 128+N (SIGTERM: 143), and the lock is released', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const { code, signal, stderr } = await lockedfile([path, '--', 'sh', '-c', 'kill -TERM $$']);
  assert.deepEqual({ code, signal }, { code: 128 + constants.signals.SIGTERM, signal: null }, stderr);
  assert.equal(code, 143);
  assert.equal(await flockTries(lockfile), 0);
});

test('a command that does not exist gives 127 and "command not found"; one that cannot be executed gives 126; the lock is released', { timeout: 20_000 }, async (t) => {
  const { dir, path, lockfile } = paths(t);
  const missing = await lockedfile([path, '--', join(dir, 'no-such-command'), 'arg']);
  assert.equal(missing.code, 127, missing.stderr);
  assert.match(missing.stderr, /no-such-command: command not found/);
  assert.equal(await flockTries(lockfile), 0, 'the lock stayed held after a command that was not found');

  const notExecutable = join(dir, 'script.sh');
  writeFileSync(notExecutable, 'echo ran\n', { mode: 0o644 });
  const refused = await lockedfile([path, '--', notExecutable]);
  assert.equal(refused.code, 126, refused.stderr);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /cannot run .*script\.sh/);
  assert.equal(await flockTries(lockfile), 0, 'the lock stayed held after a command that could not be run');
});

test('usage errors exit 64 with a message pointing to --help, and neither take the lock nor run anything', { timeout: 20_000 }, async (t) => {
  const { path, lockfile, marker } = paths(t);
  const cases = [
    { args: [], says: /no PATH given/ },
    // Bun takes a `--` right after the script as its own, leaving `touch` as the PATH.
    { args: ['--', 'touch', marker], says: /no PATH given|give one PATH/ },
    { args: [path], says: /no COMMAND given/ },
    { args: [path, '--'], says: /no COMMAND given/ },
    { args: [path, 'touch', marker], says: /give one PATH, then --/ },
    { args: ['--timeout', '100', '--nonblock', path, '--', 'touch', marker], says: /--timeout or --nonblock/ },
    { args: ['--timeout', 'abc', path, '--', 'touch', marker], says: /--timeout must be a number/ },
    { args: ['--backend', 'bogus', path, '--', 'touch', marker], says: /--backend must be auto, flock or pidfile/ },
    { args: ['--frob', path, '--', 'touch', marker], says: /Unknown option '--frob'/ },
    { args: ['status'], says: /status takes one PATH/ },
    { args: ['status', path, 'other'], says: /status takes one PATH/ },
    { args: ['status', '--nonblock', path], says: /status takes no option but --backend/ },
  ];
  const results = await Promise.all(cases.map(({ args }) => lockedfile(args)));
  for (const [i, { code, stdout, stderr }] of results.entries()) {
    const { args, says } = cases[i];
    const what = `lockedfile ${args.join(' ')}`;
    assert.equal(code, 64, `${what} exited ${code}: ${stderr}`);
    // The output goes into the messages: a runtime's own warning would show there.
    assert.equal(stdout, '', `${what}: ${stderr}`);
    assert.match(stderr, /^lockedfile: /, `${what}: ${stderr}`);
    assert.match(stderr, says, `${what}: ${stderr}`);
    assert.match(stderr, /See lockedfile --help\.\n$/, `${what}: ${stderr}`);
  }
  assert.ok(!existsSync(marker), 'a command ran despite a usage error');
  assert.ok(!existsSync(lockfile), 'a usage error created the lock file');
});

test('--help exits 0 and prints the usage; --version prints the version from package.json', { timeout: 20_000 }, async () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const [help, short, versionRun] = await Promise.all([lockedfile(['--help']), lockedfile(['-h']), lockedfile(['--version'])]);
  assert.equal(help.code, 0, help.stderr);
  assert.equal(help.stderr, '');
  assert.match(help.stdout, /^Usage:\n {2}lockedfile \[--shared\] \[--timeout MS \| --nonblock\] \[--backend B\] \[--lockfile LOCK\] PATH -- COMMAND \[ARGS\.\.\.\]\n/);
  assert.match(help.stdout, /lockedfile status \[--backend B\] \[--lockfile LOCK\] PATH/);
  assert.match(help.stdout, /-l, --lockfile LOCK/);
  assert.match(help.stdout, /Exit status:/);
  assert.deepEqual(short, help);
  assert.deepEqual(versionRun, { code: 0, signal: null, stdout: `${version}\n`, stderr: '' });
});

test("SIGTERM sent to the CLI reaches the command (its handler runs; the CLI exits with the command's status) and the lock is released", { timeout: 20_000 }, async (t) => {
  const { path, lockfile, marker } = paths(t);
  const command = `
    const { writeFileSync } = require('node:fs');
    process.on('SIGTERM', () => { writeFileSync(${JSON.stringify(marker)}, 'SIGTERM'); process.exit(0); });
    console.log('running');
    setInterval(() => {}, 1000);`;
  const child = startLockedfile(t, [path, '--', process.execPath, '-e', command]);
  await within(child.next('running'), 10_000, 'the command starting');
  assert.equal(await flockTries(lockfile), 1, 'flock -n took the lock while the command ran');

  child.signal('SIGTERM');
  assert.deepEqual(await within(child.exited, 10_000, 'the CLI ending after SIGTERM'), { code: 0, signal: null }, child.stderr);
  assert.equal(readFileSync(marker, 'utf8'), 'SIGTERM', "the command's SIGTERM handler did not run");
  assert.equal(await flockTries(lockfile), 0, 'the lock stayed held after the CLI ended');
});

test('SIGINT, SIGTERM and SIGHUP sent to the CLI end a command that does not handle them; the CLI exits 128+N and releases the lock', { timeout: 20_000 }, async (t) => {
  await Promise.all(
    ['SIGINT', 'SIGTERM', 'SIGHUP'].map(async (signal) => {
      const { path, lockfile } = paths(t);
      const child = startLockedfile(t, [path, '--', 'sh', '-c', 'echo running; exec sleep 30']);
      await within(child.next('running'), 10_000, `the command starting (${signal})`);
      child.signal(signal);
      const exit = await within(child.exited, 10_000, `the CLI ending after ${signal}`);
      assert.deepEqual(exit, { code: 128 + constants.signals[signal], signal: null }, `${signal}: ${child.stderr}`);
      assert.equal(await flockTries(lockfile), 0, `the lock stayed held after ${signal}`);
    }),
  );
});

test('a command killed by SIGKILL makes the CLI exit 137, and the lock is released', { timeout: 20_000 }, async (t) => {
  const { dir, path, lockfile } = paths(t);
  const pidFile = join(dir, 'command.pid');
  const child = startLockedfile(t, [path, '--', 'sh', '-c', 'echo $$ > "$1"; echo running; exec sleep 30', 'sh', pidFile]);
  await within(child.next('running'), 10_000, 'the command starting');
  const commandPid = Number(readFileSync(pidFile, 'utf8'));
  assert.notEqual(commandPid, child.pid);
  assert.equal(await pythonTries(lockfile), 'held');

  process.kill(commandPid, 'SIGKILL');
  assert.deepEqual(await within(child.exited, 10_000, 'the CLI ending after its command was killed'), { code: 137, signal: null }, child.stderr);
  assert.equal(await flockTries(lockfile), 0, 'the lock stayed held after the command was killed');
  assert.equal(await pythonTries(lockfile), 'free');
});

test('a lock that cannot be taken (its folder is missing) exits 69 with the reason, without running the command', { timeout: 20_000 }, async (t) => {
  const { dir, marker } = paths(t);
  const path = join(dir, 'no-such-folder', 'state.json');
  const { code, stdout, stderr } = await lockedfile([path, '--', 'touch', marker]);
  assert.equal(code, 69, stderr);
  assert.equal(stdout, '');
  assert.ok(stderr.includes(`${path}.lock`), `the message does not name the lock file: ${stderr}`);
  assert.match(stderr, /folder does not exist/);
  assert.ok(!existsSync(marker));
});

test('status says "free (no lock file)" and exits 0 without creating the lock file, and "free" once the lock has been used', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const before = await lockedfile(['status', path]);
  assert.deepEqual(before, { code: 0, signal: null, stdout: `${path}: free (no lock file)\n`, stderr: '' });
  assert.ok(!existsSync(lockfile), 'status created the lock file');

  assert.equal((await lockedfile([path, '--', 'true'])).code, 0);
  assert.ok(existsSync(lockfile));
  const after = await lockedfile(['status', path]);
  assert.deepEqual(after, { code: 0, signal: null, stdout: `${path}: free\n`, stderr: '' });
});

test('status says "held by pid <pid>" and exits 1 while a lockedfile process holds the lock, and "free" after it releases', { timeout: 20_000 }, async (t) => {
  const { path } = paths(t);
  const holder = await holdLock(t, path, {}, { env });
  const held = await lockedfile(['status', path]);
  assert.equal(held.code, 1, held.stderr);
  assert.match(held.stdout, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: held by pid ${holder.pid} `));
  await releaseAndWait(holder);
  assert.deepEqual(await lockedfile(['status', path]), { code: 0, signal: null, stdout: `${path}: free\n`, stderr: '' });
});

test('status says "held shared by pid <pid> (flock -s ...)" and exits 1 while flock -s holds the lock', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const holder = await flockHolder(t, lockfile, ['-s']);
  const { code, stdout, stderr } = await lockedfile(['status', path]);
  assert.equal(code, 1, stderr);
  assert.match(stdout, new RegExp(`: held shared by pid ${holder.pid} \\(flock -s state\\.json\\.lock sh -c [^)]*\\) on host \\S+ running since \\d\\d:\\d\\d:\\d\\d\n$`));
  // Asking did not leave the shared holder alone with a taken lock: an exclusive taker still fails,
  // a shared one still succeeds.
  assert.equal(await flockTries(lockfile, ['-x']), 1);
  assert.equal(await flockTries(lockfile, ['-s']), 0);
  holder.send();
  await holder.exited;
});

test('status says "held by pid <pid> (flock ...)" and exits 1 while flock(1) holds the lock exclusively', { timeout: 20_000 }, async (t) => {
  const { path, lockfile } = paths(t);
  const holder = await flockHolder(t, lockfile, ['-x']);
  const { code, stdout, stderr } = await lockedfile(['status', path]);
  assert.equal(code, 1, stderr);
  assert.match(stdout, new RegExp(`: held by pid ${holder.pid} \\(flock -x state\\.json\\.lock sh -c `));
  assert.doesNotMatch(stdout, /shared|free/);
  holder.send();
  await holder.exited;
  assert.equal((await lockedfile(['status', path])).code, 0);
});

test('with --backend pidfile the CLI is excluded by a lockedfile pid-file holder (--nonblock exits 75) and status --backend pidfile reports it held', { timeout: 20_000 }, async (t) => {
  const { path, lockfile, marker } = paths(t);
  const holder = await holdLock(t, path, { backend: 'pidfile' }, { env });
  assert.equal(JSON.parse(readFileSync(lockfile, 'utf8')).pid, holder.pid);

  const refused = await lockedfile(['--backend', 'pidfile', '--nonblock', path, '--', 'touch', marker]);
  assert.equal(refused.code, 75, refused.stderr);
  assert.match(refused.stderr, new RegExp(`held by pid ${holder.pid} `));
  assert.ok(!existsSync(marker), 'the command ran although the pid-file lock was held');

  const held = await lockedfile(['status', '--backend', 'pidfile', path]);
  assert.equal(held.code, 1, held.stderr);
  assert.match(held.stdout, new RegExp(`: held by pid ${holder.pid} `));
  assert.equal(JSON.parse(readFileSync(lockfile, 'utf8')).pid, holder.pid, "status disturbed the holder's lock file");

  await releaseAndWait(holder);
  assert.deepEqual(await lockedfile(['status', '-b', 'pidfile', path]), { code: 0, signal: null, stdout: `${path}: free (no lock file)\n`, stderr: '' });
  const ran = await lockedfile(['-b', 'pidfile', '-n', path, '--', 'touch', marker]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.ok(existsSync(marker), 'the command did not run once the pid-file lock was free');
  assert.ok(!existsSync(lockfile), 'the CLI left its pid-file lock behind');
});

test('--lockfile LOCK keeps the lock in LOCK: a run holds it against flock(1) on LOCK, not on PATH.lock, and status --lockfile reports it', { timeout: 20_000 }, async (t) => {
  const { dir, path, lockfile } = paths(t);
  const shared = join(dir, 'shared.lck'); // a lock another tool keeps under its own name
  const holder = await flockHolder(t, shared, ['-x']);
  const status = await lockedfile(['status', '--lockfile', shared, path]);
  assert.equal(status.code, 1, status.stderr);
  assert.match(status.stdout, new RegExp(`: held by pid ${holder.pid} \\(flock -x shared\\.lck sh -c `));
  const busy = await lockedfile(['--nonblock', '-l', shared, path, '--', 'true']);
  assert.equal(busy.code, 75, busy.stderr);
  holder.send();
  await holder.exited;

  const child = startLockedfile(t, ['--lockfile', shared, path, '--', 'sh', '-c', 'echo running; read line']);
  await within(child.next('running'), 10_000, 'the command starting');
  assert.equal(await flockTries(shared), 1, 'flock -n took LOCK while the command ran');
  assert.equal(existsSync(lockfile), false, 'PATH.lock was created');
  assert.equal((await lockedfile(['status', '-l', shared, path])).code, 1);
  child.send();
  assert.deepEqual(await child.exited, { code: 0, signal: null });
  assert.equal(await flockTries(shared), 0);
  assert.equal((await lockedfile(['status', '--lockfile', shared, path])).code, 0);
  assert.equal((await lockedfile(['--lockfile', '', path, '--', 'true'])).code, 64);
});
