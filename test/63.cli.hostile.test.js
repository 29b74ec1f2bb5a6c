// The command line when things go wrong around it: the lockedfile process killed under a
// running command, a missing folder, a FIFO at the lock path, a symlink.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lock } from 'lockedfile';
import { run, spawnChild } from './helpers/children.js';
import { needs, testWhere } from './helpers/platform.js';
import { tempDir } from './helpers/temp.js';

const test = testWhere(needs.flock, needs.flockCommand);
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

test('a SIGKILLed lockedfile process leaves its command holding the lock, as flock(1) does, until the command ends', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const child = spawnChild(t, process.execPath, [cli, path, '--', 'sh', '-c', 'echo started; exec sleep 30']);
  await child.next('started');
  const commandPid = Number(execFileSync('pgrep', ['-P', String(child.pid)]).toString().trim());
  // 'exit', not the wait for stdio to close: the command still has this process's stdio.
  const exited = new Promise((resolve) => child.proc.once('exit', resolve));
  child.proc.kill('SIGKILL');
  await exited;
  assert.equal(spawnSync('flock', ['-n', `${path}.lock`, 'true']).status, 1, 'the lock was free while the command ran');
  process.kill(commandPid, 'SIGTERM');
  for (let tries = 0; tries < 200 && spawnSync('flock', ['-n', `${path}.lock`, 'true']).status !== 0; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.equal(spawnSync('flock', ['-n', `${path}.lock`, 'true']).status, 0, 'the lock outlived the command');
});

test('status of a path in a missing folder says so and exits 69', async (t) => {
  const path = join(tempDir(t), 'no', 'such', 'a.json');
  const { code, stdout, stderr } = await run(process.execPath, [cli, 'status', path]);
  assert.equal(code, 69, stdout);
  assert.match(stderr, /no such file|does not exist|ENOENT/i);
});

test('status and a run with a FIFO at the lock path fail at once with a clear message', async (t) => {
  const path = join(tempDir(t), 'a.json');
  execFileSync('mkfifo', [`${path}.lock`]);
  for (const args of [['status', path], [path, '--', 'true']]) {
    const { code, stderr } = await run(process.execPath, [cli, ...args], { timeout: 10_000 });
    assert.equal(code, 69, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr, /not a regular file/);
  }
});

test('Ctrl-C in a terminal reaches the command once, as under flock(1)', async (t) => {
  const path = join(tempDir(t), 'a.json');
  // A real pty: the CLI runs in its foreground process group; the command counts SIGINTs.
  const script = `
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:] + ['--', sys.executable, '-c',
        'import signal, time\\nn = [0]\\ndef on(*_): n[0] += 1\\nsignal.signal(signal.SIGINT, on)\\nprint("ready", flush=True)\\nend = time.time() + 1.5\\nwhile time.time() < end: time.sleep(0.01)\\nprint("got %d" % n[0], flush=True)'])
out = b''
def read_until(token, limit):
    global out
    end = time.time() + limit
    while token not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try: out += os.read(fd, 1024)
            except OSError: break
read_until(b'ready', 10)
os.write(fd, b'\\x03')
read_until(b'got', 10)
print(out.decode(errors='replace'))
`;
  const { stdout } = await run('python3', ['-c', script, process.execPath, cli, path], { timeout: 30_000 });
  assert.match(stdout, /got 1\b/, stdout);
});

test('status and a run through a symlink use the lock beside its target, as the library does', async (t) => {
  const dir = tempDir(t);
  const real = join(dir, 'real.json');
  const link = join(dir, 'link.json');
  writeFileSync(real, '{}');
  symlinkSync(real, link);
  const handle = await lock(real);
  const status = await run(process.execPath, [cli, 'status', link]);
  assert.equal(status.code, 1, status.stderr);
  assert.match(status.stdout, new RegExp(`held by pid ${process.pid} `));
  const busy = await run(process.execPath, [cli, '--nonblock', link, '--', 'true']);
  assert.equal(busy.code, 75, busy.stderr);
  handle.release();
  assert.deepEqual(readdirSync(dir).sort(), ['link.json', 'real.json', 'real.json.lock']);
});
