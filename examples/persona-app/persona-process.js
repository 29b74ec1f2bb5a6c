// One persona, as the app runs it: a background process on its own jittered heartbeat. Each
// tick it reads what is known about the user, thinks (the LLM call in the real app), saves what
// it learned into human.jsonc, records the save in its journal and updates its own persona file.
//   node persona-process.js '{"dir": ..., "persona": "ada", "seconds": 5, "heartbeatMs": 50, "seed": 1, "unsafe": false}'
import { subscribe } from 'node:diagnostics_channel';
import { realpathSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { debuglog } from 'node:util';
import { mergeConcepts } from './concepts.js';
import { humanFile, learnConcepts, readHumanConceptMap } from './human.js';
import { appendJournal } from './journal.js';
import { learner } from './learning.js';
import { editPersona } from './personas.js';
import { naiveLearnConcepts, unreadableLoads } from './unsafe.js';

const debug = debuglog('persona');
const { dir, persona, seconds, heartbeatMs, seed, unsafe } = JSON.parse(process.argv[2]);

// How long each save waited for human.jsonc's lock, as lockedfile reports it.
const humanPath = realpathSync(humanFile(dir));
const lockWaits = [];
subscribe('lockedfile:acquire', (event) => {
  if (event.path === humanPath) lockWaits.push(event.waitMs);
});

/** Saves what this tick learned: under the lock, or (--unsafe) the old way. Resolves whether it saved. */
async function save(concepts, thinkMs) {
  const think = () => delay(thinkMs);
  if (unsafe) return naiveLearnConcepts(dir, persona, concepts, think);
  await think(await readHumanConceptMap(dir));
  await learnConcepts(dir, persona, concepts);
  return true;
}

/** The persona's own file: its tick count, and how it feels about its work. */
function recordTick(tick, concepts) {
  return editPersona(dir, persona, (own) => {
    own.settings.ticks = tick;
    own.concepts = mergeConcepts(own.concepts, [
      { name: 'curiosity', description: `${persona} learned ${concepts.length} things on tick ${tick}`, level_current: Math.min(1, concepts.length / 3), level_ideal: 0.8, level_elasticity: 0.2, type: 'persona', last_updated: new Date().toISOString() },
    ]);
    own.last_updated = new Date().toISOString();
  });
}

const next = learner({ seed, persona, heartbeatMs });
const end = performance.now() + seconds * 1000;
let tick = 0;
while (performance.now() < end) {
  const { waitMs, thinkMs, concepts } = next();
  await delay(waitMs);
  tick += 1;
  const at = new Date().toISOString();
  for (const concept of concepts) concept.last_updated = at;
  if (await save(concepts, thinkMs)) appendJournal(dir, persona, { tick, at, learned: concepts.map((concept) => concept.name) });
  await recordTick(tick, concepts);
  debug('%s: tick %d saved %d concepts', persona, tick, concepts.length);
}
process.send?.({ persona, ticks: tick, lockWaits, unreadableLoads });
