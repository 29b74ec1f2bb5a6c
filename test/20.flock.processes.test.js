import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tryLock, lock } from 'lockedfile';
import { holdLock, holder, releaseAndWait } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';

test('a lock held by another process blocks ours until it is released', async (t) => {
  const path = join(tempDir(t), 'state.json');
  const child = await holdLock(t, path);
  assert.equal(await tryLock(path), null);
  const waiting = lock(path);
  await releaseAndWait(child);
  const handle = await waiting;
  handle.release();
});

test('four processes incrementing one counter under the lock lose no update', async (t) => {
  const dir = tempDir(t);
  const counter = join(dir, 'counter');
  writeFileSync(counter, '0');
  const children = Array.from({ length: 4 }, () => holder(t, 'increment', { path: counter, counter, times: 50 }));
  const reports = await Promise.all(children.map((child) => child.next('done')));
  assert.equal(Number(readFileSync(counter, 'utf8')), 200);
  assert.deepEqual(reports.map((report) => report.overlaps), [0, 0, 0, 0]);
});
