import type { Backend, BackendName } from './backend.js';
import { flockBackend } from './flock.js';
import { pidfileBackend } from './pidfile.js';

/** What `opts.backend` and `LOCKEDFILE_BACKEND` accept. */
export type BackendChoice = 'auto' | BackendName;

const backends: Record<BackendName, Backend> = { flock: flockBackend, pidfile: pidfileBackend };

// Windows has no flock(2); everywhere else the kernel lock is the default. `auto` never falls
// back silently: if the flock addon cannot load, locking fails and says why.
const platformDefault: BackendName = process.platform === 'win32' ? 'pidfile' : 'flock';

let environmentChoice: string | undefined;

// Read once, at the first lock: the variable is meant for a whole process tree, set before it
// starts, and reading process.env costs more than the rest of choosing.
function fromEnvironment(): string {
  environmentChoice ??= process.env.LOCKEDFILE_BACKEND || 'auto';
  return environmentChoice;
}

/**
 * selectBackend maps a choice to a backend: an explicit `opts.backend` first, then
 * `LOCKEDFILE_BACKEND` (set once for a whole process tree), then the platform's default.
 */
export function selectBackend(choice: BackendChoice | undefined): Backend {
  const chosen = choice && choice !== 'auto' ? choice : fromEnvironment();
  if (chosen === 'auto') return backends[platformDefault];
  const backend = backends[chosen as BackendName];
  if (!backend) {
    const source = choice && choice !== 'auto' ? 'opts.backend' : 'LOCKEDFILE_BACKEND';
    throw new TypeError(`lockedfile: ${source} is ${JSON.stringify(chosen)}; use 'auto', 'flock' or 'pidfile'.`);
  }
  return backend;
}
