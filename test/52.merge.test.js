import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { mergeByKey } from 'lockedfile';

const record = fc.record({ id: fc.integer({ min: 0, max: 20 }), value: fc.string(), extra: fc.option(fc.nat(), { nil: undefined }) }, { requiredKeys: ['id', 'value'], noNullPrototype: true });

test('mergeByKey keeps every existing entry, adds new keys, and lets incoming fields win on a collision', () => {
  const existing = [{ id: 1, name: 'coffee', since: 2020 }, { id: 2, name: 'tea' }];
  const incoming = [{ id: 1, name: 'espresso' }, { id: 3, name: 'water' }];
  assert.deepEqual(mergeByKey(existing, incoming, 'id'), [{ id: 1, name: 'espresso', since: 2020 }, { id: 2, name: 'tea' }, { id: 3, name: 'water' }]);
  assert.deepEqual(
    mergeByKey(existing, incoming, 'id', (old) => old),
    [{ id: 1, name: 'coffee', since: 2020 }, { id: 2, name: 'tea' }, { id: 3, name: 'water' }],
  );
});

test('property: no entry is lost, inputs are not mutated, and every key ends up present', () => {
  fc.assert(
    fc.property(fc.array(record), fc.array(record), (existing, incoming) => {
      const before = structuredClone([existing, incoming]);
      const merged = mergeByKey(existing, incoming, 'id');
      assert.deepEqual([existing, incoming], before);
      assert.ok(merged.length >= existing.length);
      // Every existing entry is still there, at its place, with the same key.
      existing.forEach((entry, index) => assert.equal(merged[index].id, entry.id));
      const keys = new Set(merged.map((entry) => entry.id));
      for (const entry of [...existing, ...incoming]) assert.ok(keys.has(entry.id));
    }),
  );
});

test('property: merging the same input again changes nothing (idempotent)', () => {
  fc.assert(
    fc.property(fc.array(record), fc.array(record), (existing, incoming) => {
      const once = mergeByKey(existing, incoming, 'id');
      assert.deepEqual(mergeByKey(once, incoming, 'id'), once);
    }),
  );
});
