// A child process that uses lockedfile on the parent's behalf, driven by argv and stdin.
// It reports on stdout, one JSON object per line: {"event":"locked","pid":...} and so on.
//
//   node holder.js hold '{"path":...,"opts":{...}}'
//     takes the lock, says "locked", holds it until a line arrives on stdin (or stdin closes),
//     releases it, says "released" and exits.
//   node holder.js increment '{"path":...,"counter":...,"times":N,"opts":{...}}'
//     N times: under the lock, reads the number in `counter`, yields, writes it plus one.
//     Says "done" with the overlaps it saw (another holder's marker inside its critical section).
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { lock, withLock } from 'lockedfile';

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

const commands = { hold, increment };
await commands[command]();
