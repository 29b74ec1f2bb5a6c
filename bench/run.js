// The benchmark: every implementation on the same seven scenarios, in one run, on this machine.
//   npm run bench [-- --quick] [--only crash,scale] [--out folder]
// Prints a markdown table and writes latest.{md,json,svg} into bench/results/ (or --out); a full
// run of every scenario also writes docs/benchmark.md.
import { mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir, type } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { impls } from './impls.js';
import { writePage, writeReports } from './report.js';
import * as contended from './scenarios/contended.js';
import * as crash from './scenarios/crash.js';
import * as largeMap from './scenarios/large-map.js';
import * as memory from './scenarios/memory.js';
import * as persona from './scenarios/persona.js';
import * as scale from './scenarios/scale.js';
import * as uncontended from './scenarios/uncontended.js';

const scenarios = [uncontended, contended, persona, largeMap, crash, scale, memory];
const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' } },
});
const chosen = args.only ? scenarios.filter((scenario) => args.only.split(',').includes(scenario.about.name)) : scenarios;

const available = impls.filter((impl) => !impl.missing);
const dir = mkdtempSync(join(tmpdir(), 'lockedfile-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/**
 * A fresh, empty file for each scenario and implementation, in its own folder (peers' lock files
 * differ); it exists because proper-lockfile by default resolves the real path of what it locks.
 */
function fileFor(scenario) {
  return (key) => {
    const folder = join(dir, scenario, key.replace(/[^a-z0-9]+/gi, '-'));
    mkdirSync(folder, { recursive: true });
    const file = join(folder, 'human.jsonc');
    writeFileSync(file, '');
    return file;
  };
}

function progress(step, scenario) {
  return (what) => {
    const line = `[${step}/${chosen.length} ${scenario}] ${what}`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(`${line}\n`);
  };
}

const report = {
  machine: {
    node: process.version,
    os: `${type()} ${release()} ${process.arch}`,
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    date: new Date().toISOString(),
    mode: args.quick ? 'quick' : 'full',
  },
  scenarios: [],
};
const started = performance.now();
for (const [index, scenario] of chosen.entries()) {
  const { name } = scenario.about;
  const result = await scenario.run({ impls: available, fileFor: fileFor(name), quick: args.quick, progress: progress(index + 1, name) });
  for (const impl of impls.filter((candidate) => candidate.missing)) result.results.push({ impl: impl.name, value: null, error: impl.missing });
  report.scenarios.push(result);
}
if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
process.stderr.write(`bench: done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
console.log(writeReports(report, args.out ?? fileURLToPath(new URL('./results/', import.meta.url))));
// The docs show a full run of every scenario, written where they expect it.
if (!args.quick && !args.only && !args.out) writePage(report);
