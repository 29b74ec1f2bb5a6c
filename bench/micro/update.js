// What the lock adds to a load-modify-save: a locked updateJsonc against the same read, parse,
// edit and atomic write done without any lock, in one process on one file.
//   node bench/micro/update.js [iterations]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { updateJsonc, writeFileAtomic } from '../../dist/index.js';
// Internals on purpose: the unlocked baseline must parse and edit exactly as updateJsonc does,
// so that the difference measured is the lock and nothing else.
import { editJsonc, parseJsonc } from '../../dist/files/jsonc.js';
import { machine, measure } from '../measure.js';

const iterations = Number(process.argv[2] ?? 300);
const rounds = 7;
const dir = mkdtempSync(join(tmpdir(), 'lockedfile-bench-'));
const file = join(dir, 'human.jsonc');
writeFileSync(file, '// memory\n{\n  "saves": 0, // counter\n  "concepts": ["coffee"]\n}\n');

function change(draft) {
  draft.saves += 1;
}

async function unlocked(fsync) {
  const text = await readFile(file, 'utf8');
  const parsed = parseJsonc(text, file);
  const next = structuredClone(parsed.value);
  change(next);
  await writeFileAtomic(file, editJsonc(text, parsed, next, file), { fsync });
}

const cases = {
  'unlocked read+edit+rename, fsync': () => unlocked(true),
  'updateJsonc, fsync': () => updateJsonc(file, change),
  'unlocked read+edit+rename, no fsync': () => unlocked(false),
  'updateJsonc, no fsync': () => updateJsonc(file, change, { fsync: false }),
};

const results = await measure(cases, { iterations, rounds });
rmSync(dir, { recursive: true, force: true });

console.log(machine(`${iterations} updates x ${rounds} rounds`));
const names = Object.keys(cases);
for (let index = 0; index < names.length; index += 2) {
  const base = results[names[index]];
  const locked = results[names[index + 1]];
  console.log(`${names[index].padEnd(36)} ${base.toFixed(1).padStart(8)} µs`);
  console.log(`${names[index + 1].padEnd(36)} ${locked.toFixed(1).padStart(8)} µs   ${(locked / base).toFixed(2)}x`);
}
