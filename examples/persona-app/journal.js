// Each persona's own append-only record of what it learned and saved: journals/<name>.jsonl, one
// line per heartbeat. Only its persona writes it, so it needs no lock; it is what the end-of-run
// check compares human.jsonc against.
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function journalFile(dir, persona) {
  return join(dir, 'journals', `${persona}.jsonl`);
}

/** appendJournal records one heartbeat's saved concepts (names) for `persona`. */
export function appendJournal(dir, persona, entry) {
  mkdirSync(join(dir, 'journals'), { recursive: true });
  appendFileSync(journalFile(dir, persona), `${JSON.stringify(entry)}\n`);
}

/** readJournal returns a persona's entries, oldest first (none if it never saved anything). */
export function readJournal(dir, persona) {
  let text;
  try {
    text = readFileSync(journalFile(dir, persona), 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}
