// Interop under load: lockedfile's updateFile, flock(1) and Python's fcntl.flock all increment
// one counter file at the same time, each under the flock on count.txt.lock (the lock file
// lockedfile uses for count.txt). One missing exclusion and increments are lost.
// Quick by default (N = 50 per process); STRESS=1 runs N = 1000.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { moduleFile } from './helpers/children.js';
import { STRESS, arena } from './helpers/stress.js';
import { needs, testWhere } from './helpers/platform.js';
import { entry } from './helpers/package.js';

const test = testWhere(needs.flock, needs.flockCommand, needs.python, needs.bash);

const N = STRESS ? 1000 : 50;

// Every side says "ready", waits for a line on stdin so that all start together, makes N
// increments, each inside the lock: read count.txt afresh (lockedfile replaces it by rename),
// pause, write it plus one, and note its name in who.log. Then it says "done".

function nodeSide(spawn, dir) {
  const code = `
    import { appendFileSync } from 'node:fs';
    import { createInterface } from 'node:readline';
    import { updateFile } from ${JSON.stringify(entry)};
    const input = createInterface({ input: process.stdin });
    const go = new Promise((resolve) => input.once('line', resolve));
    console.log('ready');
    await go;
    input.close();
    for (let i = 0; i < ${N}; i++) {
      await updateFile(${JSON.stringify(join(dir, 'count.txt'))}, (text) => {
        if (!/^[0-9]+\\n?$/.test(text ?? '0')) throw new Error('node read a partial count: ' + JSON.stringify(text));
        appendFileSync(${JSON.stringify(join(dir, 'who.log'))}, 'node\\n');
        return String(Number(text ?? '0') + 1);
      }, { backend: 'flock', fsync: false });
    }
    console.log('done');`;
  return spawn(process.execPath, [moduleFile(code)]);
}

// flock(1) around a fresh sh for each increment; `sleep` inside is the pause.
const flockCommand = `
echo ready; read go
i=0
while [ $i -lt ${N} ]; do
  flock -x count.txt.lock sh -c 'read n < count.txt; sleep 0.001; echo $((n+1)) > count.txt; echo sh >> who.log' || exit 1
  i=$((i+1))
done
echo done`;

// One bash holding the lock file open on fd 9, locking and unlocking it with flock -x 9 / -u 9.
const flockFd = `
exec 9>>count.txt.lock
echo ready; read go
for ((i = 0; i < ${N}; i++)); do
  flock -x 9 || exit 1
  read n < count.txt; sleep 0.001; echo $((n+1)) > count.txt; echo sh >> who.log
  flock -u 9
done
echo done`;

const python = `
import fcntl, os, sys, time
fd = os.open('count.txt.lock', os.O_RDWR | os.O_CREAT, 0o600)
print('ready', flush=True)
sys.stdin.readline()
for _ in range(${N}):
    fcntl.flock(fd, fcntl.LOCK_EX)
    with open('count.txt') as f:
        n = int(f.read())  # a partial file raises
    time.sleep(0.001)
    with open('count.txt', 'w') as f:
        f.write(str(n + 1))
    with open('who.log', 'a') as f:
        f.write('py\\n')
    fcntl.flock(fd, fcntl.LOCK_UN)
print('done', flush=True)
`;

// A reader under flock -s, until the file "stop" appears: says what it read each time.
const reader = `
while [ ! -e stop ]; do
  flock -s count.txt.lock sh -c 'echo "read:$(cat count.txt)"'
  sleep 0.005
done
echo stopped`;

test(`updateFile, flock(1) and Python's fcntl.flock, 2 processes each x ${N} increments of one counter, end with exactly ${6 * N}; a flock -s reader never sees a partial file`, { timeout: STRESS ? 600_000 : 60_000 }, async (t) => {
  const { dir, spawn } = arena(t);
  writeFileSync(join(dir, 'count.txt'), '0');
  writeFileSync(join(dir, 'who.log'), '');
  const sides = [
    nodeSide(spawn, dir),
    nodeSide(spawn, dir),
    spawn('sh', ['-c', flockCommand]),
    spawn('bash', ['-c', flockFd]),
    spawn('python3', ['-c', python]),
    spawn('python3', ['-c', python]),
  ];
  await Promise.all(sides.map((side) => side.next('ready')));
  const watcher = spawn('sh', ['-c', reader]);
  for (const side of sides) side.send('go');
  for (const side of sides) {
    await side.closed;
    const { exitCode: code, signalCode: signal } = side.proc;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, `${side.proc.spawnfile} ${side.pid} failed: ${side.stderr}`);
    assert.ok(side.lines.some((line) => line.event === 'done'), `${side.proc.spawnfile} ${side.pid} did not say "done"`);
  }
  writeFileSync(join(dir, 'stop'), '');
  await watcher.closed;
  assert.equal(watcher.lines.at(-1)?.event, 'stopped', `the reader failed: ${watcher.stderr}`);

  assert.equal(readFileSync(join(dir, 'count.txt'), 'utf8').trim(), String(6 * N));
  const who = readFileSync(join(dir, 'who.log'), 'utf8').trim().split('\n');
  for (const name of ['node', 'sh', 'py']) assert.equal(who.filter((line) => line === name).length, 2 * N, `${name} increments`);
  const turns = who.filter((name, i) => i > 0 && name !== who[i - 1]).length;

  // The reader's values: whole numbers only, never going back.
  const reads = watcher.lines.map(({ event }) => event).filter((line) => line.startsWith('read:'));
  for (const line of reads) assert.match(line, /^read:[0-9]+$/, 'the flock -s reader saw a partial file');
  const values = reads.map((line) => Number(line.slice('read:'.length)));
  for (let i = 1; i < values.length; i++) assert.ok(values[i] >= values[i - 1], `the reader saw the count go from ${values[i - 1]} to ${values[i]}`);
  t.diagnostic(`the lock changed hands between sides ${turns} times; the reader read ${reads.length} times`);
  assert.ok(reads.length > 0, 'the reader read at least once');
});
