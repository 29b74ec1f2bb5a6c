// A copy of the built package, and of the runtime, that any user can reach, for tests that run a
// child as another user: the checkout itself may sit in a folder only its owner can enter (a 0700
// home, mktemp -d), and with it the runtimes that npm run test:runtimes installs into .runtimes/.
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandFor, thisRuntime } from './runtimes.js';
import { removeAtExit } from './temp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let copy;

/** reachableEntry returns the path of dist/index.js in a world-readable copy of the package, made once per process. */
export function reachableEntry() {
  if (!copy) {
    copy = mkdtempSync(join(tmpdir(), 'lockedfile-package-'));
    removeAtExit(copy);
    for (const part of ['package.json', 'dist', 'build/Release/lockedfile.node', 'prebuilds', 'node_modules/node-gyp-build']) {
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

/**
 * reachableRuntime returns the command that runs a module file on this runtime in a child of
 * another user: its binary, hard-linked (or copied) into the package's copy (see commandFor).
 */
export function reachableRuntime() {
  reachableEntry();
  const dir = join(copy, 'runtime');
  const binary = join(dir, basename(process.execPath));
  if (!existsSync(binary)) {
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    try {
      linkSync(process.execPath, binary);
    } catch {
      copyFileSync(process.execPath, binary); // another file system
      chmodSync(binary, 0o755);
    }
  }
  return commandFor(thisRuntime, binary);
}
