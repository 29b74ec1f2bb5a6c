// The concept maps of the persona app, and how what a persona learned joins what the file
// already holds: by concept name, never removing one, the more recent observation counting more.
import { mergeByKey } from 'lockedfile';

/**
 * @typedef {'static' | 'topic' | 'person' | 'persona'} ConceptType
 * @typedef {object} Concept
 * @property {string} name
 * @property {string} description
 * @property {number} level_current     how present the concept is now, 0..1
 * @property {number} level_ideal       how present it should be, 0..1
 * @property {number} level_elasticity  how fast level_current drifts toward level_ideal, 0..1
 * @property {ConceptType} type
 * @property {string[]} [learned_by]    the personas that contributed to it
 * @property {string} [last_updated]    ISO time of the newest observation
 * @typedef {object} ConceptMap
 * @property {string} entity            "human", or the persona's name
 * @property {string[]} [aliases]
 * @property {string} last_updated
 * @property {Concept[]} concepts
 */

/**
 * The newer of two observations weighs this much in a merged level, the older the rest: a new
 * observation moves a level two thirds of the way toward itself, so recent learning shows at once
 * while one odd observation cannot erase a long-held value.
 */
export const NEWER_WEIGHT = 2 / 3;

const time = (concept) => (concept.last_updated ? Date.parse(concept.last_updated) : Number.NEGATIVE_INFINITY);

function weighted(older, newer) {
  if (typeof older !== 'number') return newer;
  if (typeof newer !== 'number') return older;
  return older * (1 - NEWER_WEIGHT) + newer * NEWER_WEIGHT;
}

/**
 * mergeConcept joins two observations of one concept. Every field either has is kept; where both
 * have one, the newer wins, except: levels are the weighted average above, an empty description
 * never replaces a written one, `learned_by` lists every contributor once, and `last_updated` is
 * the newest. Which is newer goes by `last_updated` (a missing one is oldest), not by arrival:
 * an older update that arrives late still counts as older.
 */
export function mergeConcept(stored, learned) {
  const [older, newer] = time(learned) >= time(stored) ? [stored, learned] : [learned, stored];
  const merged = { ...older };
  for (const [key, value] of Object.entries(newer)) if (value !== undefined) merged[key] = value;
  merged.level_current = weighted(older.level_current, newer.level_current);
  merged.level_ideal = weighted(older.level_ideal, newer.level_ideal);
  merged.description = newer.description?.trim() ? newer.description : (older.description ?? newer.description);
  const learnedBy = [...new Set([...(stored.learned_by ?? []), ...(learned.learned_by ?? [])])];
  if (learnedBy.length > 0) merged.learned_by = learnedBy;
  const latest = [stored.last_updated, learned.last_updated].filter(Boolean).sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1);
  if (latest) merged.last_updated = latest;
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  return merged;
}

/**
 * mergeConcepts adds what a persona learned to the concepts already stored: every stored concept
 * stays (in its place), new names are appended, and a name both have is merged by mergeConcept.
 * Neither input is changed.
 */
export function mergeConcepts(current, learned) {
  return mergeByKey(current, learned, 'name', mergeConcept);
}
