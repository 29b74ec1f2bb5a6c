// Temporary folders for tests, removed when the test ends.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** tempDir makes a fresh folder (its real path) and removes it after the test `t`. */
export function tempDir(t) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'lockedfile-test-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
