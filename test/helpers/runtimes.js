// The JavaScript runtimes on this machine: the one running the tests, and the others (Node, Bun,
// Deno) found in .runtimes/, where npm run test:runtimes installs them, or on the PATH.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cache = fileURLToPath(new URL('../../.runtimes', import.meta.url));

export const thisRuntime = process.versions.bun ? 'bun' : process.versions.deno ? 'deno' : 'node';

/** The binary of `name`: from .runtimes/ (Bun, Deno) or the PATH; undefined where there is none. */
function binary(name) {
  const installed = join(cache, name, 'node_modules', '.bin', name);
  if (name !== 'node' && existsSync(installed)) return installed;
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0 ? name : undefined;
}

/**
 * A runtime: its name, its `binary` and `argv`, the command that runs a script file on it (Deno
 * with every permission); or `missing`, why it cannot run here.
 */
export function findRuntime(name) {
  const found = binary(name);
  if (!found) return { name, missing: `${name} is not installed (npm run test:runtimes installs Bun and Deno into .runtimes/)` };
  return { name, binary: found, argv: commandFor(name, found) };
}

/** The command that runs a script file with runtime `name`'s `binary`: Deno with every permission. */
export function commandFor(name, binary) {
  return name === 'deno' ? [binary, 'run', '-A'] : [binary];
}

/** Every runtime but this one. */
export const otherRuntimes = ['node', 'bun', 'deno'].filter((name) => name !== thisRuntime).map(findRuntime);
