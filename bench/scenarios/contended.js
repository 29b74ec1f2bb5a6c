// 2. Contended: 4 processes lock and release one lock as fast as they can, all at once, for the
// same stretch of time; the cost of a handoff is that time over the cycles all of them got done.
// (A fixed time rather than a fixed count: the slowest peers would otherwise take minutes.)
// Runs interleave the implementations, so a noisy moment hurts all of them alike.
import { median } from '../measure.js';
import { startWorkers, stopWorkers, together } from '../workers.js';

export const about = { name: 'contended', title: 'Contended: 4 processes lock/release one lock', unit: 'µs/cycle', better: 'lower' };

export async function run({ impls, fileFor, quick, progress }) {
  const processes = 4;
  const runs = quick ? 3 : 5;
  const ms = quick ? 300 : 1000;
  const all = [];
  for (const impl of impls) all.push({ impl, workers: await startWorkers(processes, impl.name, fileFor(impl.name)), samples: [] });
  for (let i = 0; i < runs; i++) {
    for (const entry of all) {
      progress(`run ${i + 1} of ${runs}: ${entry.impl.name}`);
      const { answers } = await together(entry.workers, { op: 'for', ms });
      entry.samples.push((ms * 1000) / answers.reduce((sum, answer) => sum + answer.count, 0));
    }
  }
  await Promise.all(all.map((entry) => stopWorkers(entry.workers)));
  return {
    ...about,
    note: `${processes} processes cycling for ${ms} ms; ${ms} ms / all their cycles (a cycle may follow the same process's last one); median of ${runs} runs.`,
    results: all.map(({ impl, samples }) => ({ impl: impl.name, value: median(samples), runs: samples })),
  };
}
