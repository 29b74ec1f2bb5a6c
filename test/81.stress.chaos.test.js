// Chaos: round after round, processes that update one commented JSONC file and processes that
// only hold its lock are SIGKILLed at random moments: while writing, while waiting, while
// holding, while hanging inside. After every round the file must be whole, no acknowledged
// update lost, the comments in place, and the lock free again.
// Quick by default (6 rounds per backend); STRESS=1 runs 100.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { lock, readJsonc, tryLock, updateJsonc } from 'lockedfile';
import { moduleFile } from './helpers/children.js';
import { STRESS, arena, commentsOf } from './helpers/stress.js';
import { entry } from './helpers/package.js';

const ROUNDS = STRESS ? 100 : 6;
/** Each child is killed at a random moment within this long after all of a round's are running. */
const ROUND_MS = 400;

const start = `// Chaos: written by processes that get killed at any moment.
{
  /* one more per save */
  "saves": 0,
  "log": [
    // one pid per save
  ],
  "padding": "", // rewritten every save: big enough to be caught half written
}
// end of file
`;

/** About 16 KiB that say `saves` throughout: a torn or stale padding does not match the count. */
function pad(saves) {
  return `${saves}|`.repeat(Math.ceil((16 * 1024) / (String(saves).length + 1))).slice(0, 16 * 1024);
}

function node(spawn, code) {
  return spawn(process.execPath, [moduleFile(code)]);
}

// Loops updateJsonc and prints the count of every update it saw resolve: those are acknowledged.
function updater(spawn, file, backend) {
  return node(
    spawn,
    `
    import { updateJsonc } from ${JSON.stringify(entry)};
    const pad = ${pad.toString()};
    console.log(JSON.stringify({ event: 'ready' }));
    for (;;) {
      const value = await updateJsonc(${JSON.stringify(file)}, (draft) => {
        draft.saves += 1;
        draft.log.push(process.pid);
        draft.padding = pad(draft.saves);
      }, { backend: '${backend}' });
      console.log(JSON.stringify({ event: 'saved', saves: value.saves }));
    }`,
  );
}

// Loops: takes the lock, stays a random few ms, releases. Inside, it reads the file twice and
// says "changed" if anyone wrote it meanwhile, which only a broken exclusion allows.
function holder(spawn, file, backend) {
  return node(
    spawn,
    `
    import { readFileSync } from 'node:fs';
    import { setTimeout as delay } from 'node:timers/promises';
    import { lock } from ${JSON.stringify(entry)};
    console.log(JSON.stringify({ event: 'ready' }));
    for (;;) {
      const handle = await lock(${JSON.stringify(file)}, { backend: '${backend}' });
      const before = readFileSync(${JSON.stringify(file)}, 'utf8');
      await delay(Math.random() * 5);
      if (readFileSync(${JSON.stringify(file)}, 'utf8') !== before) console.log(JSON.stringify({ event: 'changed' }));
      handle.release();
      console.log(JSON.stringify({ event: 'held' }));
      await delay(Math.random() * 3);
    }`,
  );
}

// After a random pause, takes the lock and never lets go: everyone else waits until it is killed.
function hanger(spawn, file, backend) {
  return node(
    spawn,
    `
    import { setTimeout as delay } from 'node:timers/promises';
    import { lock } from ${JSON.stringify(entry)};
    console.log(JSON.stringify({ event: 'ready' }));
    await delay(Math.random() * ${ROUND_MS});
    const handle = await lock(${JSON.stringify(file)}, { backend: '${backend}' });
    console.log(JSON.stringify({ event: 'hanging' }));
    setInterval(() => handle, 1 << 30);`,
  );
}

/** The test process can take the lock now: nobody is left holding it. */
async function assertLockFree(file, backend, round) {
  let handle = await tryLock(file, { backend });
  if (!handle && backend === 'pidfile' && readFileSync(`${file}.lock`, 'utf8') === '') {
    // A holder killed between creating its pid file and writing its record leaves an empty
    // file, which the backend treats as stale only after a second (UNREADABLE_STALE_MS).
    handle = await lock(file, { backend, timeout: 5000 });
  }
  let holder = '';
  if (!handle) holder = readFileSync(`${file}.lock`, 'utf8');
  assert.ok(handle, `round ${round}: the lock is still held after every process was killed; the lock file says ${holder}`);
  handle.release();
}

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: ${ROUNDS} rounds of updaters and lock holders SIGKILLed at random moments never tear the file, lose an acknowledged update or leave the lock held`, { timeout: STRESS ? 3_600_000 : 120_000 }, async (t) => {
    const { dir, spawn } = arena(t);
    const file = join(dir, 'chaos.jsonc');
    writeFileSync(file, start);
    const comments = commentsOf(start);
    let floor = 0;
    const seen = { saves: 0, holds: 0, hangs: 0, tempFiles: 0 };

    for (let round = 0; round < ROUNDS; round++) {
      const children = [updater(spawn, file, backend), updater(spawn, file, backend), updater(spawn, file, backend), holder(spawn, file, backend), holder(spawn, file, backend), hanger(spawn, file, backend)];
      await Promise.all(children.map((child) => child.next('ready')));
      // Every other round, the updaters are also killed the moment a temp file appears: in the
      // middle of a write, which random moments seldom hit.
      const watcher = round % 2 === 1 ? watch(dir, (_, name) => name?.endsWith('.tmp') && children.slice(0, 3).forEach((child) => child.proc.kill('SIGKILL'))) : undefined;
      try {
        // Each killed at its own moment: some while writing, some waiting, some holding the lock.
        await Promise.all(
          children.map(async (child) => {
            await delay(Math.random() * ROUND_MS);
            await child.kill('SIGKILL');
            await child.closed;
          }),
        );
      } finally {
        watcher?.close();
      }
      for (const child of children) {
        assert.equal(child.proc.signalCode, 'SIGKILL', `round ${round}: child ${child.pid} ended by itself (code ${child.proc.exitCode}) before it was killed: ${child.stderr}`);
        assert.ok(!child.lines.some((line) => line.event === 'changed'), `round ${round}: holder ${child.pid} saw the file change while it held the lock`);
      }
      const lines = children.flatMap((child) => child.lines);
      const acknowledged = lines.filter((line) => line.event === 'saved').map((line) => line.saves);
      seen.saves += acknowledged.length;
      seen.holds += lines.filter((line) => line.event === 'held').length;
      seen.hangs += lines.filter((line) => line.event === 'hanging').length;
      seen.tempFiles += readdirSync(dir).filter((name) => name.endsWith('.tmp')).length;

      const text = readFileSync(file, 'utf8');
      const value = await readJsonc(file); // throws if the file is torn
      floor = Math.max(floor, ...acknowledged);
      assert.ok(value.saves >= floor, `round ${round}: the file has ${value.saves} saves, ${floor} were acknowledged`);
      assert.equal(value.log.length, value.saves, `round ${round}: the count and the log moved together`);
      // (Still the starting file's empty padding while no update has gone through at all.)
      assert.equal(value.padding, value.saves === 0 ? '' : pad(value.saves), `round ${round}: the padding is whole and of the same save`);
      assert.deepEqual(commentsOf(text), comments, `round ${round}: the comments`);
      await assertLockFree(file, backend, round);
      floor = value.saves;
    }
    t.diagnostic(`acknowledged saves ${seen.saves}, holds ${seen.holds}, hangs ${seen.hangs}, temp files left by killed writers ${seen.tempFiles}`);
    assert.ok(seen.saves > 0, 'the updaters got some updates through');
    assert.ok(seen.holds > 0, 'the holders got the lock at times');

    // The next update needs the lock the killed processes held, and sweeps their temp files.
    const value = await updateJsonc(file, (draft) => void (draft.saves += 1), { backend });
    assert.equal(value.saves, floor + 1);
    const left = readdirSync(dir).filter((name) => name.endsWith('.tmp'));
    assert.deepEqual(left, []);
  });
}
