// Timing shared by the benchmarks: every case runs in each of several rounds, interleaved, so a
// noisy moment on a shared machine hurts every case alike; each case reports its median round.
import { cpus } from 'node:os';
// The one internal a benchmark imports: the addon itself, for the floor that the lock's own
// work is measured against (rawFlockCycle).
import { loadAddon } from '../dist/backends/addon.js';

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** measure runs each case `iterations` times per round; resolves µs per call, median of the rounds, by name. */
export async function measure(cases, { iterations, rounds = 7 }) {
  const samples = await sample(cases, () => iterations, rounds);
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

/**
 * measureFor is measure for cases whose speeds differ by orders of magnitude: each case runs as
 * many times per round as fit in about `roundMs`. Resolves { name: µs per call of each round }.
 */
export async function measureFor(cases, { roundMs, rounds }) {
  const iterations = {};
  for (const [name, run] of Object.entries(cases)) {
    let count = 0;
    const started = performance.now();
    while (performance.now() - started < roundMs / 4) {
      await run();
      count++;
    }
    iterations[name] = Math.max(1, Math.round((count * roundMs) / (performance.now() - started)));
  }
  return sample(cases, (name) => iterations[name], rounds);
}

async function sample(cases, iterationsOf, rounds) {
  const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(cases)) {
      const iterations = iterationsOf(name);
      const started = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await run();
      samples[name].push(Number(process.hrtime.bigint() - started) / 1000 / iterations);
    }
  }
  return samples;
}

/**
 * rawFlockCycle returns the floor every lock is measured against: open the lock file, flock it,
 * unlock, close, straight through the addon with no policy at all.
 */
export function rawFlockCycle(lockfilePath) {
  const addon = loadAddon();
  const ident = new Float64Array(2);
  return () => {
    const fd = addon.open(lockfilePath, 0o600, ident);
    addon.flock(fd, addon.LOCK_EX | addon.LOCK_NB);
    addon.flock(fd, addon.LOCK_UN);
    addon.close(fd);
  };
}

/** The machine line every benchmark prints first. */
export function machine(what) {
  return `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${what}, medians`;
}
