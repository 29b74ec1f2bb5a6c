// 7. Memory and descriptors: one process locks and releases 1,000,000 times; its RSS, heap and
// open descriptors are read after a warm-up, halfway and at the end. Anything kept per lock
// would show as growth in the second half.
import { Worker } from '../workers.js';

export const about = { name: 'memory', title: 'Memory kept over many lock/release cycles in one process', unit: 'MB RSS growth', better: 'lower' };
const MB = 2 ** 20;

export async function run({ impls, fileFor, quick, progress }) {
  const cycles = quick ? 40_000 : 1_000_000;
  // lockedfile always runs the whole count (the figure this scenario exists for); peers stop at
  // the time limit, which for the slowest is long before a million cycles.
  const peerMaxMs = quick ? 1_000 : 30_000;
  const results = [];
  for (const impl of impls) {
    progress(`${impl.name}, up to ${cycles.toLocaleString('en-US')} cycles`);
    const worker = new Worker(impl.name, fileFor(impl.name), ['--expose-gc']);
    const maxMs = impl.ours ? 1e12 : peerMaxMs;
    const answer = await worker.ask({ op: 'memory', n: cycles, maxMs });
    await worker.kill();
    const { first, middle, last } = answer;
    results.push({
      impl: impl.name,
      value: (last.rss - middle.rss) / MB,
      rssMB: last.rss / MB,
      heapGrowthMB: (last.heapUsed - middle.heapUsed) / MB,
      fdGrowth: last.fds - first.fds,
      cycles: answer.cycles,
      usPerCycle: (answer.ms * 1000) / answer.cycles,
    });
  }
  return {
    ...about,
    note: `${cycles.toLocaleString('en-US')} cycles for lockedfile, for peers as many as fit in ${peerMaxMs / 1000} s (cycles column), after 10,000 warm-up cycles; growth of RSS and heap over the second half (the first half lets RSS reach its working size), descriptors over the whole run; gc before each reading.`,
    results,
  };
}
