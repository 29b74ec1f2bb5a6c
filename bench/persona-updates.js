// What the persona and large-map scenarios share: every implementation (lockedfile at both
// durability levels) runs `processes` workers that each make `n` persona updates of one file that
// starts as `start`, `runs` times, the runs interleaving the implementations so that a noisy
// moment hurts all of them alike. After each run the file must still hold `kept` (a comment), and
// every update missing from its count of saves was lost.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'jsonc-parser';
import { unlocked } from './impls.js';
import { startWorkers, stopWorkers, together } from './workers.js';

/**
 * Runs the updates; resolves with one entry per implementation and level: its `name`, `impl`,
 * `samples` (each run's wall time in ms), `waits` (every update's lock wait in ms) and `lost`
 * (the worst run's).
 */
export async function runPersonaUpdates({ impls, fileFor, progress, processes, n, runs, start, kept }) {
  // lockedfile twice: durable (data and rename synced, its default) and at the peers' level
  // (fsync: 'data', the data synced and the rename not), which is what write-file-atomic gives.
  const all = [...impls, unlocked].flatMap((impl) =>
    (impl.durabilities ?? [undefined]).map((fsync) => ({
      impl,
      fsync,
      name: fsync === 'data' ? `${impl.name} (fsync: 'data')` : impl.name,
      path: fileFor(fsync === 'data' ? `${impl.name}-data` : impl.name),
      samples: [],
      waits: [],
      lost: 0,
    })),
  );
  for (const entry of all) entry.workers = await startWorkers(processes, entry.impl.name, entry.path);
  for (let i = 0; i < runs; i++) {
    for (const entry of all) {
      progress(`run ${i + 1} of ${runs}: ${entry.name}`);
      writeFileSync(entry.path, start);
      const { ms, answers } = await together(entry.workers, { op: 'updates', n, fsync: entry.fsync });
      entry.samples.push(ms);
      entry.waits.push(...answers.flatMap((answer) => answer.waits));
      const text = readFileSync(entry.path, 'utf8');
      if (!text.includes(kept)) throw new Error(`bench: ${entry.name} lost the comments of ${entry.path}`);
      entry.lost = Math.max(entry.lost, processes * n - parse(text).saves);
    }
  }
  await Promise.all(all.map((entry) => stopWorkers(entry.workers)));
  return all;
}
