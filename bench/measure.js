// Timing shared by the benchmarks: every case runs in each of several rounds, interleaved, so a
// noisy moment on a shared machine hurts every case alike; each case reports its median round.
import { cpus } from 'node:os';

/** measure runs each case `iterations` times per round; resolves µs per call, median of the rounds, by name. */
export async function measure(cases, { iterations, rounds = 7 }) {
  const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(cases)) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await run();
      samples[name].push(Number(process.hrtime.bigint() - started) / 1000 / iterations);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

/** The machine line every benchmark prints first. */
export function machine(what) {
  return `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${what}, medians`;
}
