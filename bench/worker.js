// One benchmark process: it loads one implementation and then does what the runner asks, one
// JSON command per stdin line, answering one JSON line per command on stdout.
//   node bench/worker.js <impl name> <path>
//   {"op":"cycles","n":N}    N lock/release cycles                  -> {"ms"}
//   {"op":"for","ms":T}      lock/release cycles for T ms           -> {"count"}
//   {"op":"updates","n":N,"fsync":F}  N persona updates of the JSONC file (F: lockedfile's
//                            fsync option; peers always sync the data only) -> {"ms","waits"}
//                            (waits: each update's lock wait in ms)
//   {"op":"hold"}            take the lock and keep it              -> {"held"}, then nothing
//   {"op":"acquire"}         wait for the lock (held elsewhere)     -> {"waiting"}, then {"at"}
//   {"op":"memory","n":N,"maxMs":T}  N cycles (at most T ms); memory and descriptors after a
//                            warm-up, halfway and at the end       -> {"first","middle","last","cycles","ms"}
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { collectWaits, implNamed } from './impls.js';

const [name, path] = process.argv.slice(2);
const impl = implNamed(name);
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function cycle() {
  const release = await impl.lock(path);
  await release();
}

function usage() {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed, fds: readdirSync('/proc/self/fd').length };
}

const ops = {
  async cycles({ n }) {
    const started = now();
    for (let i = 0; i < n; i++) await cycle();
    say({ ms: now() - started });
  },
  async for({ ms }) {
    const until = now() + ms;
    let count = 0;
    while (now() < until) {
      await cycle();
      count++;
    }
    say({ count });
  },
  async updates({ n, fsync }) {
    const stop = collectWaits();
    const started = now();
    for (let i = 0; i < n; i++) await impl.update(path, `${process.pid}-${i}`, fsync);
    const ms = now() - started;
    say({ ms, waits: stop() });
  },
  async hold() {
    await impl.lock(path);
    say({ held: true });
  },
  async acquire() {
    say({ waiting: true });
    await impl.lock(path);
    // CLOCK_MONOTONIC: the same clock in every process on the machine, so the runner can compare.
    say({ at: now() });
  },
  async memory({ n, maxMs }) {
    for (let i = 0; i < Math.min(10_000, n); i++) await cycle(); // warm up: JIT, caches, pools
    const first = usage();
    const started = now();
    let cycles = 0;
    let middle;
    while (cycles < n && now() - started < maxMs) {
      await cycle();
      cycles++;
      // Halfway (by count or by time): RSS has grown to its working size by then; growth after it is kept memory.
      if (!middle && (cycles >= n / 2 || now() - started >= maxMs / 2)) middle = usage();
    }
    const ms = now() - started;
    say({ first, middle: middle ?? first, last: usage(), cycles, ms });
  },
};

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  await ops[command.op](command);
}
