// What one updateJsonc costs as the persona map grows: one concept's level changed and one
// concept appended, at about 40 KB, 400 KB, 1.5 MB and 10 MB, in one process, no fsync, against
//   plain JSON       read, JSON.parse, change, JSON.stringify, atomic write (no comments kept)
//   jsonc-parser     read, parse, the same two changes with its modify + applyEdits, atomic write
//   node bench/micro/jsonc-sizes.js [rounds]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEdits, modify, parse } from 'jsonc-parser';
import { updateJsonc, writeFileAtomic } from '../../dist/index.js';
import { conceptMap as map } from '../concept-map.js';
import { machine, measureFor, median } from '../measure.js';

const rounds = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'lockedfile-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

let tick = 0;
function change(value) {
  tick++;
  value.concepts[tick % value.concepts.length].level_current = (tick % 100) / 100;
  value.concepts.push({ name: `new ${tick}`, description: 'appended', level_current: 0.1, level_ideal: 0.5, type: 'topic' });
  if (value.concepts.length > value.initial) value.concepts.splice(value.initial - 1, 1); // keeps the size steady
}

const sizes = [100, 1000, 4000, 26000];
console.log(`${machine(`no fsync, median of ${rounds} rounds`)}`);
console.log('concepts  size      updateJsonc   plain JSON   jsonc-parser   vs plain  vs jsonc-parser');
for (const count of sizes) {
  const text = map(count);
  const files = Object.fromEntries(['lockedfile', 'plain', 'jsoncParser'].map((name) => [name, join(dir, `${name}-${count}.jsonc`)]));
  for (const file of Object.values(files)) writeFileSync(file, text);
  writeFileSync(files.plain, `${JSON.stringify(parse(text), null, 2)}\n`); // the same data, without comments
  const withInitial = (value) => Object.defineProperty(value, 'initial', { value: count, enumerable: false });
  const cases = {
    lockedfile: () => updateJsonc(files.lockedfile, (draft) => void change(withInitial(draft)), { fsync: false }),
    plain: async () => {
      const value = withInitial(JSON.parse(await readFile(files.plain, 'utf8')));
      change(value);
      await writeFileAtomic(files.plain, JSON.stringify(value, null, 2), { fsync: false });
    },
    jsoncParser: async () => {
      let text = await readFile(files.jsoncParser, 'utf8');
      const value = parse(text);
      const index = (tick + 1) % value.concepts.length;
      const formattingOptions = { insertSpaces: true, tabSize: 2 };
      text = applyEdits(text, modify(text, ['concepts', index, 'level_current'], ((tick + 1) % 100) / 100, { formattingOptions }));
      text = applyEdits(text, modify(text, ['concepts', -1], { name: `new ${tick}`, description: 'appended', level_current: 0.1, level_ideal: 0.5, type: 'topic' }, { formattingOptions, isArrayInsertion: true }));
      if (value.concepts.length + 1 > count) text = applyEdits(text, modify(text, ['concepts', count - 1], undefined, { formattingOptions }));
      tick++;
      await writeFileAtomic(files.jsoncParser, text, { fsync: false });
    },
  };
  const samples = await measureFor(cases, { roundMs: count >= 26000 ? 3000 : 1000, rounds });
  const ms = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values) / 1000]));
  const size = `${(text.length / 1024 / 1024).toFixed(2)} MB`;
  console.log(
    `${String(count).padStart(8)}  ${size.padEnd(9)} ${ms.lockedfile.toFixed(2).padStart(9)} ms ${ms.plain.toFixed(2).padStart(9)} ms ${ms.jsoncParser.toFixed(2).padStart(11)} ms ${(ms.lockedfile / ms.plain).toFixed(2).padStart(8)}x ${(ms.jsoncParser / ms.lockedfile).toFixed(2).padStart(10)}x faster`,
  );
}
