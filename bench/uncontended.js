// The floor: what an uncontended lock()+release() costs next to the raw system calls it is
// made of (open + flock + unlock + close), measured in the same process on the same file.
//   node bench/uncontended.js [iterations]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { lock, lockSync } from '../dist/index.js';
import { loadAddon } from '../dist/native.js';

const iterations = Number(process.argv[2] ?? 50_000);
const rounds = 7;
const dir = mkdtempSync(join(tmpdir(), 'lockedfile-bench-'));
const path = join(dir, 'state.json');
const lockfilePath = `${path}.lock`;
const addon = loadAddon();
const ident = new Float64Array(2);

const cases = {
  'raw open+flock+close (addon)': () => {
    const fd = addon.open(lockfilePath, 0o600, ident);
    addon.flock(fd, addon.LOCK_EX | addon.LOCK_NB);
    addon.flock(fd, addon.LOCK_UN);
    addon.close(fd);
  },
  'lockSync()+release()': () => lockSync(path).release(),
  'await lock()+release()': async () => (await lock(path)).release(),
};

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const results = {};
for (const [name, run] of Object.entries(cases)) results[name] = [];
for (let round = 0; round < rounds; round++) {
  // Interleaved, so that a noisy moment hurts every case alike.
  for (const [name, run] of Object.entries(cases)) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await run();
    results[name].push(Number(process.hrtime.bigint() - started) / 1000 / iterations);
  }
}
rmSync(dir, { recursive: true, force: true });

const floor = median(results['raw open+flock+close (addon)']);
console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${iterations} iterations x ${rounds} rounds, medians`);
for (const [name, samples] of Object.entries(results)) {
  const us = median(samples);
  console.log(`${name.padEnd(32)} ${us.toFixed(2).padStart(7)} µs/op   ${(us / floor).toFixed(2)}x raw`);
}
