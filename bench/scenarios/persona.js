// 3. Persona update: 4 processes each make N read-modify-write updates of one commented JSONC
// file (one more save, one more concept). Every update that is not in the file at the end was
// lost; with a lock that must be none. The unlocked run shows the loss a lock prevents.
// Runs interleave the implementations, so a noisy moment hurts all of them alike.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'jsonc-parser';
import { unlocked } from '../impls.js';
import { median } from '../measure.js';
import { startWorkers, stopWorkers, together } from '../workers.js';

export const about = { name: 'persona', title: 'Persona update: 4 processes × N updates of one JSONC file', unit: 'ms', better: 'lower' };

const start = `// What the personas know about the user. Edited by hand too.
{
  "saves": 0, // one more per update
  "concepts": [
    "coffee", // the first thing we learned
  ],
}
`;

export async function run({ impls, fileFor, quick, progress }) {
  const processes = 4;
  const n = quick ? 25 : 100;
  const runs = quick ? 3 : 5;
  // lockedfile twice: durable (data and rename synced, its default) and at the peers' level
  // (fsync: 'data', the data synced and the rename not), which is what write-file-atomic gives.
  const all = [...impls, unlocked].flatMap((impl) =>
    (impl.durabilities ?? [undefined]).map((fsync) => ({
      impl,
      fsync,
      name: fsync === 'data' ? `${impl.name} (fsync: 'data')` : impl.name,
      path: fileFor(fsync === 'data' ? `${impl.name}-data` : impl.name),
      samples: [],
      lost: 0,
    })),
  );
  for (const entry of all) entry.workers = await startWorkers(processes, entry.impl.name, entry.path);
  for (let i = 0; i < runs; i++) {
    for (const entry of all) {
      progress(`run ${i + 1} of ${runs}: ${entry.name}`);
      writeFileSync(entry.path, start);
      const { ms } = await together(entry.workers, { op: 'updates', n, fsync: entry.fsync });
      entry.samples.push(ms);
      const text = readFileSync(entry.path, 'utf8');
      if (!text.includes('// the first thing we learned')) throw new Error(`bench: ${entry.name} lost the comments of ${entry.path}`);
      entry.lost = Math.max(entry.lost, processes * n - parse(text).saves);
    }
  }
  await Promise.all(all.map((entry) => stopWorkers(entry.workers)));
  return {
    ...about,
    note: `${processes} processes × ${n} updates; lockedfile durable by default (data and rename fsynced) and with fsync: 'data' (data only, as the peers); median of ${runs} runs; lost = updates missing from the file (worst run). Peers: jsonc-parser edits + write-file-atomic (data fsynced) under their lock.`,
    results: all.map(({ name, samples, lost }) => ({ impl: name, value: median(samples), runs: samples, lost })),
  };
}
