// Options are checked: a wrong one is a TypeError or RangeError naming it, and nothing is created.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { lock, updateFile } from 'lockedfile';
import { tempDir } from './helpers/temp.js';

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: invalid options are TypeErrors or RangeErrors naming the option, and create nothing`, async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'a.json');
    const cases = [
      [{ lockfileMode: 1e10 }, RangeError, /opts\.lockfileMode/],
      [{ lockfileMode: 0.5 }, RangeError, /opts\.lockfileMode/],
      [{ lockfileMode: -1 }, RangeError, /opts\.lockfileMode/],
      [{ mode: 0o600 }, TypeError, /opts\.lockfileMode/],
      [{ shared: 'yes' }, TypeError, /opts\.shared/],
      [{ retry: { minDelay: 'fast' } }, RangeError, /opts\.retry\.minDelay/],
      [{ retry: { factor: 0.5 } }, RangeError, /opts\.retry\.factor/],
      [{ retry: { jitter: 2 } }, RangeError, /opts\.retry\.jitter/],
      [{ retry: { minDelay: 50, maxDelay: 10 } }, RangeError, /opts\.retry\.maxDelay/],
      [{ retry: 5 }, TypeError, /opts\.retry/],
    ];
    for (const [opts, type, message] of cases) {
      await assert.rejects(lock(path, { backend, ...opts }), (error) => {
        assert.ok(error instanceof type, `${JSON.stringify(opts)} gave ${error}`);
        assert.match(error.message, message);
        return true;
      });
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  test(`${backend}: updateFile's mode is the file's and lockfileMode the lock file's`, async (t) => {
    const path = join(tempDir(t), 'a.json');
    await updateFile(path, () => 'x', { backend, mode: 0o640, lockfileMode: 0o604 });
    assert.equal(statSync(path).mode & 0o777, 0o640);
    if (backend === 'flock') assert.equal(statSync(`${path}.lock`).mode & 0o777, 0o604);
  });
}
