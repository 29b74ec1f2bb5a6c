// What a persona learns on each heartbeat, drawn from a seeded generator: the same seed and
// persona give the same observations, tick by tick, on every run. (How many ticks fit in the
// run's time still depends on the machine.)

/** The personas' names, in the order the demo starts them; more get numbered names. */
export const PERSONA_NAMES = ['ada', 'basil', 'cleo', 'dex', 'edda', 'finn', 'gale', 'hugo', 'iris', 'juno', 'kit', 'lumen'];

export function personaName(index) {
  return PERSONA_NAMES[index] ?? `persona-${index + 1}`;
}

/** Things about the user that every persona may notice: the concepts they share and merge. */
const SHARED = [
  ['coffee', 'topic'],
  ['remote work', 'topic'],
  ['cycling', 'topic'],
  ['jazz', 'topic'],
  ['science fiction', 'topic'],
  ['early mornings', 'static'],
  ['learning Japanese', 'topic'],
  ['hiking', 'topic'],
  ['cooking ramen', 'topic'],
  ['chess', 'topic'],
  ['Mara, their sister', 'person'],
  ['Theo, a colleague', 'person'],
  ['the cat, Miso', 'static'],
  ['kindness', 'static'],
];

/** Things one persona hears in its own conversations: each becomes a concept only it knows. */
const OWN = ['a childhood memory', 'a favourite film', 'a worry', 'a goal for the year', 'a book to read', 'an inside joke', 'a trip being planned', 'a song on repeat'];

/** FNV-1a: a string to a 32-bit seed. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) h = Math.imul(h ^ text.charCodeAt(index), 0x01000193);
  return h >>> 0;
}

/** seededRandom returns a generator of numbers in [0, 1) (mulberry32) fixed by `seed`. */
export function seededRandom(seed) {
  let state = hash(String(seed));
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (value) => Math.round(value * 1000) / 1000;

/**
 * learner returns `next()`, which gives a persona's next tick: how long to wait for it
 * (`waitMs`: the heartbeat, jittered ±50 %), how long it thinks (`thinkMs`, the LLM call in the real app)
 * and the concepts it learned, 1 to 3, each shared with the other personas 40 % of the time and
 * otherwise new and its own.
 */
export function learner({ seed, persona, heartbeatMs }) {
  const random = seededRandom(`${seed}:${persona}`);
  const pick = (list) => list[Math.floor(random() * list.length)];
  let own = 0;
  return function next() {
    const waitMs = heartbeatMs * (0.5 + random());
    const thinkMs = random() * 8;
    const concepts = [];
    const count = 1 + Math.floor(random() * 3);
    for (let index = 0; index < count; index++) {
      const shared = random() < 0.4;
      const [name, type] = shared ? pick(SHARED) : [`${persona}: ${pick(OWN)} (${++own})`, 'topic'];
      concepts.push({
        name,
        description: `${persona} noticed ${shared ? name : 'this'} in conversation ${Math.floor(random() * 1000)}`,
        level_current: round(random()),
        level_ideal: round(random()),
        level_elasticity: round(random() * 0.5),
        type,
      });
    }
    // Two concepts of one tick may draw the same shared name: the persona learned it once.
    const unique = [...new Map(concepts.map((concept) => [concept.name, concept])).values()];
    return { waitMs, thinkMs, concepts: unique };
  };
}
