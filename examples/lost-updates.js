// The bug this package exists for, in miniature: four processes each add 50 entries to one
// JSON file by load-modify-save. Without a lock most additions vanish; with withLock none do.
//   node examples/lost-updates.js
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { withLock } from 'lockedfile';

const [role, file, useLock, name] = process.argv.slice(2);
const WRITERS = 4;
const ENTRIES = 50;

let tornReads = 0;

/**
 * Reads the file. An unlocked reader may catch another process half-way through its save, and
 * unlocked saves can even leave a file that never parses again: then, like a real app, it gives
 * up and starts from nothing.
 */
function load() {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      tornReads += 1;
    }
  }
  return { facts: [] };
}

/** One load-modify-save, as the apps in question do it: read, think a moment, write back. */
async function addEntry(index) {
  const memory = load();
  await delay(Math.random() * 2);
  memory.facts.push(`${name} learned fact ${index}`);
  writeFileSync(file, JSON.stringify(memory, null, 2));
}

async function writer() {
  for (let index = 0; index < ENTRIES; index++) {
    if (useLock === 'lock') await withLock(file, () => addEntry(index));
    else await addEntry(index);
  }
  process.send?.({ tornReads });
}

async function run(mode) {
  const dir = mkdtempSync(join(tmpdir(), 'lockedfile-demo-'));
  const memory = join(dir, 'memory.json');
  writeFileSync(memory, JSON.stringify({ facts: [] }));
  const started = performance.now();
  let tornReads = 0;
  const writers = Array.from({ length: WRITERS }, (_, index) =>
    new Promise((resolve, reject) => {
      fork(fileURLToPath(import.meta.url), ['writer', memory, mode, `persona-${index + 1}`])
        .on('message', (report) => (tornReads += report.tornReads))
        .on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited with ${code}`))));
    }),
  );
  await Promise.all(writers);
  const kept = JSON.parse(readFileSync(memory, 'utf8')).facts.length;
  rmSync(dir, { recursive: true, force: true });
  const label = mode === 'lock' ? 'with withLock   ' : 'without a lock  ';
  console.log(`${label} ${kept} of ${WRITERS * ENTRIES} facts kept (${WRITERS * ENTRIES - kept} lost, ${tornReads} half-written reads) in ${Math.round(performance.now() - started)} ms`);
  return kept;
}

if (role === 'writer') {
  await writer();
} else {
  console.log(`${WRITERS} processes each save ${ENTRIES} facts into one JSON file:`);
  await run('none');
  const kept = await run('lock');
  if (kept !== WRITERS * ENTRIES) process.exitCode = 1;
}
