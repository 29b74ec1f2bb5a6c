// The persona app's merge of learned concepts into the stored ones (examples/persona-app).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NEWER_WEIGHT, mergeConcept, mergeConcepts } from '../examples/persona-app/concepts.js';

const concept = (fields) => ({ description: '', level_current: 0.5, level_ideal: 0.5, level_elasticity: 0.3, type: 'topic', ...fields });
const T1 = '2026-11-20T10:00:00.000Z';
const T2 = '2026-11-21T10:00:00.000Z';

test('the same concept from two personas: levels weighted toward the newer, contributors and the newest time kept', () => {
  const stored = concept({ name: 'coffee', description: 'drinks coffee', level_current: 0.3, level_ideal: 0.9, learned_by: ['ada'], last_updated: T1 });
  const learned = concept({ name: 'coffee', description: 'drinks two espressos a day', level_current: 0.9, level_ideal: 0.3, learned_by: ['bob'], last_updated: T2 });
  const [merged] = mergeConcepts([stored], [learned]);
  assert.ok(Math.abs(merged.level_current - (0.3 / 3 + 0.9 * 2 / 3)) < 1e-12, `${merged.level_current}`);
  assert.ok(Math.abs(merged.level_ideal - (0.9 / 3 + 0.3 * 2 / 3)) < 1e-12, `${merged.level_ideal}`);
  assert.equal(NEWER_WEIGHT, 2 / 3);
  assert.equal(merged.description, 'drinks two espressos a day');
  assert.deepEqual(merged.learned_by, ['ada', 'bob']);
  assert.equal(merged.last_updated, T2);
});

test('an older observation arriving after a newer one counts as the older', () => {
  const stored = concept({ name: 'tea', description: 'now prefers green tea', level_current: 0.9, learned_by: ['bob'], last_updated: T2 });
  const late = concept({ name: 'tea', description: 'likes black tea', level_current: 0.3, learned_by: ['ada'], last_updated: T1 });
  const merged = mergeConcept(stored, late);
  assert.ok(Math.abs(merged.level_current - (0.3 / 3 + 0.9 * 2 / 3)) < 1e-12, `the stored, newer level weighs more: ${merged.level_current}`);
  assert.equal(merged.description, 'now prefers green tea');
  assert.equal(merged.last_updated, T2);
  assert.deepEqual(merged.learned_by, ['bob', 'ada']);
});

test('missing optional fields: nothing invented, nothing lost, no undefined left behind', () => {
  const stored = { name: 'walks', description: 'walks the dog', level_current: 0.4, level_ideal: 0.6, level_elasticity: 0.2, type: 'static', aliases: ['dog walks'] };
  const learned = { name: 'walks', description: '', level_current: 0.7, level_ideal: undefined, type: 'static' };
  const merged = mergeConcept(stored, learned);
  assert.equal(merged.description, 'walks the dog', 'an empty description never replaces a written one');
  assert.equal(merged.level_ideal, 0.6);
  assert.equal(merged.level_elasticity, 0.2);
  assert.deepEqual(merged.aliases, ['dog walks'], 'a field only the stored concept has is kept');
  assert.equal('learned_by' in merged, false);
  assert.equal('last_updated' in merged, false);
  assert.ok(Object.values(merged).every((value) => value !== undefined));
  // Neither has a time: the learned one counts as the newer.
  assert.ok(Math.abs(merged.level_current - (0.4 / 3 + 0.7 * 2 / 3)) < 1e-12);
});

test('a stored concept the update does not mention stays, in its place; new names are appended; inputs unchanged', () => {
  const current = [concept({ name: 'a', learned_by: ['ada'] }), concept({ name: 'b' }), concept({ name: 'c' })];
  const learned = [concept({ name: 'd', learned_by: ['bob'] }), concept({ name: 'b', level_current: 1, last_updated: T1 })];
  const before = structuredClone({ current, learned });
  const merged = mergeConcepts(current, learned);
  assert.deepEqual(merged.map((entry) => entry.name), ['a', 'b', 'c', 'd']);
  assert.deepEqual(merged[0], current[0]);
  assert.deepEqual(merged[2], current[2]);
  assert.deepEqual({ current, learned }, before);
});

const names = fc.constantFrom('coffee', 'tea', 'walks', 'music', 'rust', 'ada');
const level = fc.double({ min: 0, max: 1, noNaN: true });
const observed = fc.record(
  {
    name: names,
    description: fc.string({ maxLength: 6 }),
    level_current: level,
    level_ideal: level,
    level_elasticity: level,
    type: fc.constantFrom('static', 'topic', 'person', 'persona'),
    learned_by: fc.array(fc.constantFrom('ada', 'bob', 'cy'), { maxLength: 2 }),
    last_updated: fc.integer({ min: 0, max: 10 }).map((day) => new Date(Date.UTC(2026, 10, 1 + day)).toISOString()),
  },
  { requiredKeys: ['name', 'level_current', 'level_ideal', 'type'], noNullPrototype: true },
);
const unique = (list) => [...new Map(list.map((entry) => [entry.name, entry])).values()];

test('property: no concept is lost, levels stay between the two observed, every contributor is kept', () => {
  fc.assert(
    fc.property(fc.array(observed, { maxLength: 6 }).map(unique), fc.array(observed, { maxLength: 6 }).map(unique), (current, learned) => {
      const merged = mergeConcepts(current, learned);
      assert.deepEqual(merged.map((entry) => entry.name).sort(), [...new Set([...current, ...learned].map((entry) => entry.name))].sort());
      for (const entry of merged) {
        const seen = [...current, ...learned].filter((other) => other.name === entry.name);
        const levels = seen.map((other) => other.level_current);
        assert.ok(entry.level_current >= Math.min(...levels) - 1e-12 && entry.level_current <= Math.max(...levels) + 1e-12);
        for (const persona of seen.flatMap((other) => other.learned_by ?? [])) assert.ok(entry.learned_by.includes(persona));
      }
    }),
    { numRuns: 200 },
  );
});
