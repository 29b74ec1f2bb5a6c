// A child process that uses lockedfile on the parent's behalf, driven by argv and stdin.
// It reports on stdout, one JSON object per line: {"event":"locked","pid":...} and so on.
//
//   node holder.js hold '{"path":...,"opts":{...},"releaseAfterMs":N}'
//     takes the lock, says "locked", holds it until a line arrives on stdin (or stdin closes),
//     or for N ms if given, releases it, says "released" and exits. (N: for a parent that blocks
//     its thread meanwhile, which under Bun also holds back what it writes to the child.)
//   node holder.js increment '{"path":...,"counter":...,"times":N,"opts":{...}}'
//     N times: under the lock, reads the number in `counter`, yields, writes it plus one.
//     Says "done" with the overlaps it saw (another holder's marker inside its critical section).
//   node holder.js lockAll '{"paths":[...],"times":N,"marker":...,"opts":{...}}'
//     N times: takes all `paths` with lockAll (in the order given), yields, releases them. With a
//     `marker` file, counts the times another holder's marker was there inside its critical section.
//     Says "done" with the rounds and the overlaps.
//   node holder.js holdMany '{"paths":[...],"opts":{...}}'
//     takes the lock on every path, one after the other, says "locked", holds them all until a
//     line arrives on stdin (or stdin closes), releases them, says "released" and exits.
//   node holder.js tryRounds '{"path":...,"opts":{...}}'
//     says "ready"; then, for each round, waits for a line on stdin holding a time (ms since the
//     epoch), waits until then, tries the lock once with tryLock and says "tried" with `got`
//     (true/false), holds what it got until the next line, releases it and says "released".
//     Exits when stdin closes. Many of these given one time race for one lock.
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { lock, lockAll, tryLock, withLock } from 'lockedfile';

const [command, json] = process.argv.slice(2);
const args = JSON.parse(json ?? '{}');

function say(event, extra = {}) {
  process.stdout.write(`${JSON.stringify({ event, pid: process.pid, ...extra })}\n`);
}

async function hold() {
  const handle = await lock(args.path, args.opts);
  say('locked', { backend: handle.backend, shared: handle.shared });
  const input = createInterface({ input: process.stdin });
  await new Promise((resolve) => {
    input.once('line', resolve);
    input.once('close', resolve);
    if (args.releaseAfterMs !== undefined) setTimeout(resolve, args.releaseAfterMs);
  });
  handle.release();
  say('released');
  input.close();
}

async function increment() {
  const marker = `${args.counter}.inside`;
  let overlaps = 0;
  for (let i = 0; i < args.times; i++) {
    await withLock(
      args.path,
      async () => {
        if (existsSync(marker)) overlaps += 1;
        writeFileSync(marker, String(process.pid));
        const value = Number(readFileSync(args.counter, 'utf8') || '0');
        await delay(Math.random() < 0.5 ? 0 : 1);
        writeFileSync(args.counter, String(value + 1));
        unlinkSync(marker);
      },
      args.opts,
    );
  }
  say('done', { overlaps });
}

async function lockAllLoop() {
  let overlaps = 0;
  for (let i = 0; i < args.times; i++) {
    const handle = await lockAll(args.paths, args.opts);
    if (args.marker) {
      if (existsSync(args.marker)) overlaps += 1;
      writeFileSync(args.marker, String(process.pid));
    }
    await delay(0);
    if (args.marker) unlinkSync(args.marker);
    handle.release();
  }
  say('done', { rounds: args.times, overlaps });
}

/** Lines from stdin, one per call to `next()`; resolves at once for every call after stdin closes. */
function stdinLines() {
  const input = createInterface({ input: process.stdin });
  const queued = [];
  const waiting = [];
  let closed = false;
  input.on('line', (line) => (waiting.length > 0 ? waiting.shift()(line) : queued.push(line)));
  input.once('close', () => {
    closed = true;
    for (const resolve of waiting.splice(0)) resolve(undefined);
  });
  return {
    next: () => (queued.length > 0 || closed ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve))),
    close: () => input.close(),
  };
}

async function holdMany() {
  const handles = [];
  for (const path of args.paths) handles.push(await lock(path, args.opts));
  say('locked', { count: handles.length });
  const input = stdinLines();
  await input.next();
  for (const handle of handles) handle.release();
  say('released');
  input.close();
}

async function tryRounds() {
  const input = stdinLines();
  say('ready');
  for (let line = await input.next(); line !== undefined; line = await input.next()) {
    const at = Number(line);
    if (at - Date.now() > 5) await delay(at - Date.now() - 5);
    while (Date.now() < at) {
      // spin: all of them go at the same moment
    }
    const handle = await tryLock(args.path, args.opts);
    say('tried', { got: handle !== null });
    const more = await input.next();
    handle?.release();
    say('released');
    if (more === undefined) break;
  }
  input.close();
}

const commands = { hold, increment, lockAll: lockAllLoop, holdMany, tryRounds };
await commands[command]();
