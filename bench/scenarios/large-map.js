// 4. Large map: the persona update of scenario 3 on a concept map grown to about 1.5 MB (4,000
// concepts), 4 processes. Each update holds the lock for its whole read, change and write, so
// what it costs there is what every other process waits: reported per update, with the lock
// waits' p50 and p99 over every update of every run.
import { conceptMap } from '../concept-map.js';
import { unlocked } from '../impls.js';
import { median } from '../measure.js';
import { runPersonaUpdates } from '../persona-updates.js';

export const about = { name: 'large-map', title: 'Large map: 4 processes update one 1.5 MB JSONC file', unit: 'ms/update', better: 'lower' };

export async function run({ impls, fileFor, quick, progress }) {
  const processes = 4;
  const n = quick ? 3 : 10;
  const runs = quick ? 1 : 3;
  const start = conceptMap(4000);
  const all = await runPersonaUpdates({ impls, fileFor, progress, processes, n, runs, start, kept: '// learned so far' });
  return {
    ...about,
    note: `${(start.length / 1024 / 1024).toFixed(2)} MB, ${processes} processes × ${n} updates; value = wall time / updates, median of ${runs} run${runs === 1 ? '' : 's'}; lock wait = asking to holding, p50 and p99 of every update; lost as in the persona scenario.`,
    results: all.map(({ impl, name, samples, waits, lost }) => {
      const perUpdate = samples.map((ms) => ms / (processes * n));
      return {
        impl: name,
        value: median(perUpdate),
        runs: perUpdate,
        'wait p50 ms': impl === unlocked ? null : quantile(waits, 0.5),
        'wait p99 ms': impl === unlocked ? null : quantile(waits, 0.99),
        lost,
      };
    }),
  };
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
