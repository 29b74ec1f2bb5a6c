// Temporary folders for tests, removed when the test (or, for removeAtExit, the process) ends.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** tempDir makes a fresh folder (its real path) and removes it after the test `t`. */
export function tempDir(t) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'lockedfile-test-')));
  // Never throws: a failing test's children may still be writing here, and a throwing hook
  // would skip the later hooks that kill them, leaving the test waiting on them for ever.
  t.after(() => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch {}
  });
  return dir;
}

/** removeAtExit removes `dir` when this process ends: on 'exit', or on 'unload' (deno test ends without 'exit'). */
export function removeAtExit(dir) {
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', remove);
  globalThis.addEventListener?.('unload', remove);
}
