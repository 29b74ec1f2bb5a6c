// 1. Uncontended lock + release, async, in one process, beside the raw system calls under a
// flock lock (open, flock, unlock, close through the addon, synchronously).
import { loadAddon } from '../../dist/native.js';
import { measureFor, median } from '../measure.js';

export const about = { name: 'uncontended', title: 'Uncontended lock + release (async, one process)', unit: 'µs/op', better: 'lower' };

export async function run({ impls, fileFor, quick, progress }) {
  const addon = loadAddon();
  const ident = new Float64Array(2);
  const rawLock = `${fileFor('raw')}.lock`;
  const cases = {
    'raw open+flock+close': () => {
      const fd = addon.open(rawLock, 0o600, ident);
      addon.flock(fd, addon.LOCK_EX | addon.LOCK_NB);
      addon.flock(fd, addon.LOCK_UN);
      addon.close(fd);
    },
  };
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
