// The end-of-run audit: did every concept a persona saved reach human.jsonc, and is every backup
// a whole, readable snapshot? It reads the files itself, with a plain JSONC parser, and trusts
// nothing the personas say about themselves except their journals.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'jsonc-parser';
import { HUMAN_HEADER, humanFile } from './human.js';
import { readJournal } from './journal.js';
import { personaFile } from './personas.js';

/** readMap parses a JSONC concept map; undefined if it is missing or does not parse. */
export function readMap(file) {
  if (!existsSync(file)) return undefined;
  const errors = [];
  const value = parse(readFileSync(file, 'utf8'), errors, { allowTrailingComma: true });
  return errors.length === 0 && Array.isArray(value?.concepts) ? value : undefined;
}

/** Who learned each concept in `map`: name -> Set of personas. */
function contributors(map) {
  return new Map((map?.concepts ?? []).map((concept) => [concept.name, new Set(concept.learned_by ?? [])]));
}

/**
 * auditJournals compares each persona's journal with human.jsonc. A concept counts once per
 * persona that learned it; it persisted if the map has it with that persona in `learned_by`.
 */
export function auditJournals(dir, personas) {
  const known = contributors(readMap(humanFile(dir)));
  return personas.map((persona) => {
    const learned = new Set(readJournal(dir, persona).flatMap((entry) => entry.learned));
    const lost = [...learned].filter((name) => !known.get(name)?.has(persona));
    return { persona, learned: learned.size, persisted: learned.size - lost.length, lost };
  });
}

/** humanHeaderKept says whether human.jsonc still starts with its comment header. */
export function humanHeaderKept(dir) {
  return existsSync(humanFile(dir)) && readFileSync(humanFile(dir), 'utf8').startsWith(HUMAN_HEADER);
}

/**
 * auditBackups checks every backup folder: human.jsonc and each persona's file are there and
 * parse, and every concept the backup's human.jsonc has is still in the live one (concepts are
 * never removed). Returns the number of backups and a list of problems.
 */
export function auditBackups(dir, personas) {
  const folder = join(dir, 'backups');
  const backups = existsSync(folder) ? readdirSync(folder).filter((name) => !name.startsWith('.')) : [];
  const live = contributors(readMap(humanFile(dir)));
  const problems = [];
  for (const backup of backups) {
    const map = readMap(humanFile(join(folder, backup)));
    if (!map) problems.push(`${backup}: human.jsonc missing or unreadable`);
    const gone = (map?.concepts ?? []).filter((concept) => !live.has(concept.name));
    if (gone.length > 0) problems.push(`${backup}: ${gone.length} concepts no longer in human.jsonc`);
    for (const persona of personas) {
      if (readMap(personaFile(join(folder, backup), persona))?.entity !== persona) problems.push(`${backup}: personas/${persona}.jsonc missing or unreadable`);
    }
  }
  return { taken: backups.length, problems };
}
