// 1. Uncontended lock + release, async, in one process, beside the raw system calls under a
// flock lock (open, flock, unlock, close through the addon, synchronously).
import { measureFor, median, rawFlockCycle } from '../measure.js';

export const about = { name: 'uncontended', title: 'Uncontended lock + release (async, one process)', unit: 'µs/op', better: 'lower' };

export async function run({ impls, fileFor, quick, progress }) {
  const cases = { 'raw open+flock+close': rawFlockCycle(`${fileFor('raw')}.lock`) };
  for (const impl of impls) {
    const path = fileFor(impl.name);
    cases[impl.name] = async () => (await impl.lock(path))();
  }
  progress('all implementations, interleaved');
  const samples = await measureFor(cases, { roundMs: quick ? 100 : 400, rounds: quick ? 3 : 7 });
  return {
    ...about,
    note: 'Each implementation runs as many cycles as fit in a round; rounds interleave the implementations; value = median round.',
    results: Object.entries(samples).map(([impl, runs]) => ({ impl, value: median(runs), runs })),
  };
}
