// Where the built package is, for the code that child processes run: they import it by this
// path (a child's module may sit in a folder where the name `lockedfile` does not resolve).
import { fileURLToPath } from 'node:url';

/** The built package's entry point, dist/index.js. */
export const entry = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
