// Group commit: 32 concurrent updateJsonc calls on one file from one process (a persona server
// handling many requests) against the same 32 awaited one after another, fsync on.
//   node bench/micro/group-commit.js [rounds]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { updateJsonc } from '../../dist/index.js';
import { machine, median } from '../measure.js';

const rounds = Number(process.argv[2] ?? 7);
const calls = 32;
const dir = mkdtempSync(join(tmpdir(), 'lockedfile-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'human.jsonc');
const change = (draft) => void (draft.saves += 1);

const times = { sequential: [], concurrent: [] };
for (let round = 0; round < rounds; round++) {
  writeFileSync(file, '// memory\n{\n  "saves": 0, // counter\n}\n');
  let started = performance.now();
  for (let i = 0; i < calls; i++) await updateJsonc(file, change);
  times.sequential.push(performance.now() - started);
  started = performance.now();
  const values = await Promise.all(Array.from({ length: calls }, () => updateJsonc(file, change)));
  times.concurrent.push(performance.now() - started);
  if (values.at(-1).saves !== 2 * calls) throw new Error(`bench: lost updates (${values.at(-1).saves})`);
}
const [sequential, concurrent] = [median(times.sequential), median(times.concurrent)];
console.log(machine(`fsync on, median of ${rounds} rounds`));
console.log(`${calls} updates awaited one after another  ${sequential.toFixed(1)} ms`);
console.log(`${calls} updates at once (group commit)     ${concurrent.toFixed(1)} ms   ${(sequential / concurrent).toFixed(1)}x faster, 0 lost`);
