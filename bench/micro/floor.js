// The floor: what an uncontended lock()+release() costs next to the raw system calls it is
// made of (open + flock + unlock + close), measured in the same process on the same file.
//   node bench/micro/floor.js [iterations]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lock, lockSync } from '../../dist/index.js';
import { machine, measure, rawFlockCycle } from '../measure.js';

const iterations = Number(process.argv[2] ?? 50_000);
const rounds = 7;
const dir = mkdtempSync(join(tmpdir(), 'lockedfile-bench-'));
const path = join(dir, 'state.json');
// The data file exists, as it does in an app (and in the full benchmark): a missing one makes
// every lock walk its path name by name to see where a link would lead.
writeFileSync(path, '{}');

const cases = {
  'raw open+flock+close (addon)': rawFlockCycle(`${path}.lock`),
  'lockSync()+release()': () => lockSync(path).release(),
  'await lock()+release()': async () => (await lock(path)).release(),
};

const results = await measure(cases, { iterations, rounds });
rmSync(dir, { recursive: true, force: true });

const floor = results['raw open+flock+close (addon)'];
console.log(machine(`${iterations} iterations x ${rounds} rounds`));
for (const [name, us] of Object.entries(results)) {
  console.log(`${name.padEnd(32)} ${us.toFixed(2).padStart(7)} µs/op   ${(us / floor).toFixed(2)}x raw`);
}
