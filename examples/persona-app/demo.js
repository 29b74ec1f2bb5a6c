// The persona app end to end (`npm run demo`): N personas, each a background process on its own
// heartbeat, learn about one user and save into one shared human.jsonc while they edit their own
// files and another process takes backups. At the end every persona's journal is checked against
// human.jsonc. With --unsafe the personas save the old way, without a lock, and concepts vanish.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { auditBackups, auditJournals, humanHeaderKept, readMap } from './check.js';
import { humanFile, updateHumanConceptMap } from './human.js';
import { personaName } from './learning.js';
import { createPersona, loadPersonas } from './personas.js';

const usage = `usage: npm run demo -- [--personas N] [--seconds S] [--heartbeat MS] [--seed N] [--dir DIR] [--unsafe]
  --personas N     persona processes (default 4)
  --seconds S      how long they run (default 5)
  --heartbeat MS   mean time between a persona's ticks (default 50, jittered ±50 %)
  --seed N         what the personas learn, tick by tick (default 1)
  --dir DIR        where the app's files go (default: a new temporary folder, kept)
  --unsafe         save human.jsonc without a lock, as the app did before, to see concepts lost`;

function options() {
  const { values } = parseArgs({
    options: {
      personas: { type: 'string', default: '4' },
      seconds: { type: 'string', default: '5' },
      heartbeat: { type: 'string', default: '50' },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string' },
      unsafe: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const number = (name, min, max) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < min || value > max) {
      console.error(`--${name} must be a number from ${min} to ${max}, got ${values[name]}.\n${usage}`);
      process.exit(2);
    }
    return value;
  };
  return {
    personas: Math.round(number('personas', 1, 64)),
    seconds: number('seconds', 0.1, 3600),
    heartbeatMs: number('heartbeat', 1, 60_000),
    seed: values.seed,
    dir: resolve(values.dir ?? mkdtempSync(join(tmpdir(), 'lockedfile-persona-app-'))),
    unsafe: values.unsafe,
  };
}

/** Runs `script` with `config` as a child process; resolves with the report it sends at the end. */
function start(script, config) {
  return new Promise((resolvePromise, reject) => {
    let report;
    fork(fileURLToPath(new URL(script, import.meta.url)), [JSON.stringify(config)])
      .on('message', (message) => (report = message))
      .on('error', reject)
      .on('exit', (code, signal) => {
        if (code === 0 && report) resolvePromise(report);
        else reject(new Error(`${script} ${config.persona ?? ''} stopped with ${signal ?? `exit code ${code}`}`));
      });
  });
}

function quantile(values, q) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const ms = (value) => (value === undefined ? '-' : value.toFixed(2));

function table(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? String(cell).padEnd(widths[column]) : String(cell).padStart(widths[column]))).join('  ')).join('\n');
}

const config = options();
const { dir, seconds, unsafe } = config;
const names = Array.from({ length: config.personas }, (_, index) => personaName(index));

mkdirSync(dir, { recursive: true });
await updateHumanConceptMap(dir, (map) => map); // creates human.jsonc, with its comment header
for (const persona of names) await createPersona(dir, persona, { settings: { heartbeat_ms: config.heartbeatMs, ticks: 0 } });

console.log(
  `${names.length} personas learn about one user for ${seconds} s, each saving into one human.jsonc ` +
    `${unsafe ? 'the old way: load, change, save, no lock' : 'through lockedfile'}; backups are taken meanwhile.`,
);
const started = performance.now();
const [reports] = await Promise.all([
  Promise.all(names.map((persona) => start('./persona-process.js', { dir, persona, seconds, heartbeatMs: config.heartbeatMs, seed: config.seed, unsafe }))),
  start('./backup-process.js', { dir, seconds, everyMs: 250 }),
]);
const elapsed = (performance.now() - started) / 1000;

const audit = auditJournals(dir, names);
const personas = new Map((await loadPersonas(dir)).map((persona) => [persona.entity, persona]));
const rows = [['persona', 'ticks', 'learned', 'persisted', 'lost', 'lock wait p50 ms', 'p99 ms']];
for (const [index, { persona, learned, persisted, lost }] of audit.entries()) {
  const { lockWaits } = reports[index];
  rows.push([persona, personas.get(persona)?.settings.ticks ?? '?', learned, persisted, lost.length, ms(quantile(lockWaits, 0.5)), ms(quantile(lockWaits, 0.99))]);
}
console.log(table(rows));

const learned = audit.reduce((sum, row) => sum + row.learned, 0);
const persisted = audit.reduce((sum, row) => sum + row.persisted, 0);
const lost = learned - persisted;
const map = readMap(humanFile(dir));
const headerKept = humanHeaderKept(dir);
const backups = auditBackups(dir, names);
const unreadable = reports.reduce((sum, report) => sum + report.unreadableLoads, 0);

console.log(
  `human.jsonc: ${map ? `${map.concepts.length} concepts` : 'no longer parses'}, comment header ${headerKept ? 'kept' : 'lost'}` +
    (unsafe ? `; ${unreadable} loads found it half written` : ''),
);
console.log(`backups: ${backups.taken} taken, ${backups.problems.length === 0 ? 'all whole and consistent with human.jsonc' : `${backups.problems.length} with problems, e.g. ${backups.problems[0]}`}`);
if (lost > 0) console.log(`lost, for example: ${audit.flatMap((row) => row.lost.map((name) => `"${name}" (${row.persona})`)).slice(0, 3).join(', ')}`);
console.log(`files: ${dir} (ran ${elapsed.toFixed(1)} s)`);
console.log(`personas=${names.length} learned=${learned} persisted=${persisted} lost=${lost}`);

// With the locks, anything lost or broken is a bug: fail loudly. Without them it is the point.
if (!unsafe && (lost > 0 || !headerKept || backups.problems.length > 0)) process.exitCode = 1;
