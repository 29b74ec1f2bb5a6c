// 3. Persona update: 4 processes each make N read-modify-write updates of one commented JSONC
// file (one more save, one more concept). Every update that is not in the file at the end was
// lost; with a lock that must be none. The unlocked run shows the loss a lock prevents.
// Runs interleave the implementations (persona-updates.js).
import { median } from '../measure.js';
import { runPersonaUpdates } from '../persona-updates.js';

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
  const all = await runPersonaUpdates({ impls, fileFor, progress, processes, n, runs, start, kept: '// the first thing we learned' });
  return {
    ...about,
    note: `${processes} processes × ${n} updates; lockedfile durable by default (data and rename fsynced) and with fsync: 'data' (data only, as the peers); median of ${runs} runs; lost = updates missing from the file (worst run). Peers: jsonc-parser edits + write-file-atomic (data fsynced) under their lock.`,
    results: all.map(({ name, samples, lost }) => ({ impl: name, value: median(samples), runs: samples, lost })),
  };
}
