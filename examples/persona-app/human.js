// human.jsonc: the one concept map about the user that every persona writes into. Every change
// is a locked read-modify-write (updateJsonc), so no persona's save can erase another's.
import { join } from 'node:path';
import { debuglog } from 'node:util';
import { readJsonc, updateFile, updateJsonc } from 'lockedfile';
import { mergeConcepts } from './concepts.js';

const debug = debuglog('persona');

/** The comment at the top of a new human.jsonc; people may edit it, and updates keep it. */
export const HUMAN_HEADER = [
  '// What the personas have learned about the user. Each persona merges what it learns into',
  '// "concepts" by name and never removes one. You may edit this file by hand; comments are kept.',
].join('\n');

/** humanFile is where the app in folder `dir` keeps the user's concept map. */
export function humanFile(dir) {
  return join(dir, 'human.jsonc');
}

/** The text of a new, empty human concept map. */
function newHumanText() {
  const map = { entity: 'human', aliases: [], last_updated: new Date().toISOString(), concepts: [] };
  return `${HUMAN_HEADER}\n${JSON.stringify(map, null, 2)}\n`;
}

/** readHumanConceptMap returns the user's concept map (a whole file: writes are atomic renames). */
export function readHumanConceptMap(dir) {
  return readJsonc(humanFile(dir));
}

/**
 * updateHumanConceptMap is the atomic update of the user's concept map: under the map's lock it
 * loads the current map, lets `updater` change it (or return a new one) and saves the result,
 * keeping every comment. A missing map is first created with its comment header. `opts` are
 * updateJsonc's (timeout, signal, fsync). Resolves with the map as saved.
 */
export async function updateHumanConceptMap(dir, updater, opts = {}) {
  const file = humanFile(dir);
  try {
    return await updateJsonc(file, updater, opts);
  } catch (error) {
    if (error?.code !== 'ENOENT' || error.path !== file) throw error;
    // Created under the same lock, only if still missing: two personas starting at once make one file.
    await updateFile(file, (text) => text ?? newHumanText(), opts);
    return updateJsonc(file, updater, opts);
  }
}

/**
 * learnConcepts merges what persona `persona` learned into the user's map (see mergeConcepts):
 * nothing stored is removed, and the persona is recorded in each concept's `learned_by`.
 */
export function learnConcepts(dir, persona, learned, opts = {}) {
  const observed = learned.map((concept) => ({ ...concept, learned_by: [...new Set([...(concept.learned_by ?? []), persona])] }));
  return updateHumanConceptMap(
    dir,
    (map) => {
      const known = new Set(map.concepts.map((concept) => concept.name));
      map.concepts = mergeConcepts(map.concepts, observed);
      map.last_updated = new Date().toISOString();
      // Not behind debug.enabled, which Bun's debuglog does not have: the lists are short.
      const added = observed.filter((concept) => !known.has(concept.name)).map((concept) => concept.name);
      const merged = observed.filter((concept) => known.has(concept.name)).map((concept) => concept.name);
      debug('%s: merge into human.jsonc: added %j, merged %j (%d concepts now)', persona, added, merged, map.concepts.length);
      return map;
    },
    opts,
  );
}
