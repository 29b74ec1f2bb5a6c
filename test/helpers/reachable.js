// A copy of the built package that any user can reach, for tests that run a child as another
// user: the checkout itself may sit in a folder only its owner can enter (a 0700 home, mktemp -d).
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
let copy;

/** reachableEntry returns the path of dist/index.js in a world-readable copy of the package, made once per process. */
export function reachableEntry() {
  if (!copy) {
    copy = mkdtempSync(join(tmpdir(), 'lockedfile-package-'));
    const remove = () => rmSync(copy, { recursive: true, force: true });
    process.on('exit', remove);
    globalThis.addEventListener?.('unload', remove); // deno test ends without 'exit'
    for (const part of ['package.json', 'dist', 'build/Release/lockedfile.node', 'prebuilds', 'node_modules/node-gyp-build', 'node_modules/jsonc-parser']) {
      try {
        cpSync(join(root, part), join(copy, part), { recursive: true, dereference: true });
      } catch (error) {
        if (error.code !== 'ENOENT') throw error;
      }
    }
    chmodRecursive(copy);
  }
  return join(copy, 'dist', 'index.js');
}

function chmodRecursive(dir) {
  chmodSync(dir, 0o755);
  for (const entry of readdir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) chmodRecursive(path);
    else chmodSync(path, 0o644);
  }
}

function readdir(dir) {
  return readdirSync(dir, { withFileTypes: true });
}
