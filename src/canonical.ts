import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * canonicalPath names a file the same way however its folder is spelled (relative, absolute,
 * through a symlinked folder). The file itself need not exist; its folder must.
 */
export function canonicalPath(file: string): string {
  return join(realpathSync.native(dirname(file)), basename(file));
}
