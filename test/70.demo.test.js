import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from './helpers/children.js';

test('examples/lost-updates.js: without a lock facts are lost, with withLock all 200 are kept', async () => {
  const demo = fileURLToPath(new URL('../examples/lost-updates.js', import.meta.url));
  const { code, stdout, stderr } = await run(process.execPath, [demo]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /with withLock +200 of 200 facts kept \(0 lost, 0 half-written reads\)/);
  assert.match(stdout, /without a lock +\d+ of 200 facts kept/);
});
