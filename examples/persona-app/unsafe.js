// The bug the seeds describe, kept for comparison (`npm run demo -- --unsafe`): human.jsonc
// loaded, changed and saved in place with no lock, as the app did before it used lockedfile.
// Two personas that load the same version both save, and the later save erases the earlier.
import { writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { readMap } from './check.js';
import { mergeConcepts } from './concepts.js';
import { humanFile } from './human.js';

/** How many reads found the file half written (or not parsing) in this process. */
export let unreadableLoads = 0;

/**
 * loadUnlocked reads the map as the app did. A save in progress elsewhere can leave the file
 * half written for a moment: it tries again, a millisecond later, up to 20 times; undefined if
 * the file never parsed.
 */
export async function loadUnlocked(dir) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const map = readMap(humanFile(dir));
    if (map) return map;
    unreadableLoads += 1;
    await delay(1);
  }
  return undefined;
}

/** saveUnlocked writes the whole map in place: no lock, no temp file, and no comments kept. */
export function saveUnlocked(dir, map) {
  writeFileSync(humanFile(dir), JSON.stringify(map, null, 2));
}

/**
 * naiveLearnConcepts is learnConcepts without the package: load, think, merge, save. Resolves
 * false, having saved nothing, when the map could not be read.
 */
export async function naiveLearnConcepts(dir, persona, learned, think) {
  const map = await loadUnlocked(dir);
  if (!map) return false;
  await think(map);
  map.concepts = mergeConcepts(map.concepts, learned.map((concept) => ({ ...concept, learned_by: [persona] })));
  map.last_updated = new Date().toISOString();
  saveUnlocked(dir, map);
  return true;
}
