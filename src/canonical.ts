import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * canonicalPath names a file the same way however its folder is spelled (relative, absolute,
 * through a symlinked folder). The file itself need not exist; its folder must.
 */
export function canonicalPath(file: string): string {
  return join(realpathSync.native(dirname(file)), basename(file));
}

/** As many links as the kernel follows before ELOOP. */
const MAX_LINKS = 40;

/**
 * resolveTarget is the one rule for which file a path names, used for its lock and for every
 * write: the real path through every symlink, the file itself included; a dangling link names
 * the file it will create; a missing file names itself in its real folder.
 */
export function resolveTarget(path: string): string {
  let file = resolve(path);
  for (let links = 0; links <= MAX_LINKS; links++) {
    try {
      return realpathSync.native(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const info = lstatSync(file, { throwIfNoEntry: false });
    if (!info?.isSymbolicLink()) return canonicalPath(file);
    file = resolve(dirname(file), readlinkSync(file));
  }
  throw Object.assign(new Error(`lockedfile: too many symbolic links in ${path}`), { code: 'ELOOP', path });
}
