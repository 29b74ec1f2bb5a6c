// 6. Scale: 1, 2, 4, 8 and 16 processes contend for one lock; total lock/release throughput
// for each count, so the curve shows how each implementation behaves as contention grows.
import { median } from '../measure.js';
import { startWorkers, stopWorkers, together } from '../workers.js';

export const about = { name: 'scale', title: 'Throughput by number of contending processes', unit: 'lock/release per s', better: 'higher' };
const series = [1, 2, 4, 8, 16];

export async function run({ impls, fileFor, quick, progress }) {
  const runs = quick ? 1 : 3;
  const ms = quick ? 150 : 1000;
  const results = [];
  for (const impl of impls) {
    const points = [];
    for (const processes of series) {
      progress(`${impl.name}, ${processes} processes`);
      const workers = await startWorkers(processes, impl.name, fileFor(impl.name));
      const samples = [];
      for (let i = 0; i < runs; i++) {
        const { answers } = await together(workers, { op: 'for', ms });
        samples.push((answers.reduce((sum, answer) => sum + answer.count, 0) * 1000) / ms);
      }
      await stopWorkers(workers);
      points.push({ processes, value: median(samples), runs: samples });
    }
    results.push({ impl: impl.name, value: points.at(-1).value, points });
  }
  return { ...about, series, note: `Each count cycles for ${ms} ms; median of ${runs} run(s) per point.`, results };
}
