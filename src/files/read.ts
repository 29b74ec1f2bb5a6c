// Reading the text of a file that is about to be updated (or read as JSONC): a regular file's
// bytes as UTF-8 text, never a wait on a FIFO or an endless read of a device planted there.
import { isAscii, isUtf8 } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { errorCode, fileError } from '../common/errors.js';

/** O_NONBLOCK: opening a FIFO does not wait for a writer (it is refused right after, by type). */
const READ = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
/** The same, not following a symbolic link at the last step (the path was resolved before). */
export const READ_NO_FOLLOW = READ | (constants.O_NOFOLLOW ?? 0);

/**
 * readTextFile returns a file's text, or undefined when it does not exist (see readRegularFile;
 * text that is not UTF-8 is refused with EILSEQ: decoded anyway, its other bytes would be
 * replaced and, written back, lost).
 */
export function readTextFile(file: string, flags = READ): string | undefined {
  const bytes = readRegularFile(file, flags);
  return bytes === undefined ? undefined : decodeText(bytes, file);
}

/**
 * readRegularFile returns a file's bytes, or undefined when it does not exist. It is one
 * synchronous open, fstat and read: microseconds on a local disk, where each asynchronous call is
 * a round trip through the thread pool, which under updateFile's lock every other writer waits
 * for. A directory is EISDIR, anything else that is not a regular file (a FIFO, a device, a
 * socket) EINVAL.
 */
export function readRegularFile(file: string, flags = READ): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, flags);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const info = fstatSync(fd);
    if (info.isDirectory()) throw fileError('EISDIR', 'read', file, `cannot read ${file}: it is a directory.`);
    if (!info.isFile()) {
      const why = 'it is not a regular file (a FIFO, a device or a socket), and only regular files are read and replaced. Nothing was read or written.';
      throw fileError('EINVAL', 'read', file, `will not read ${file}: ${why}`);
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** decodeText returns a file's bytes as text, refusing bytes that are not UTF-8 (EILSEQ). */
export function decodeText(bytes: Buffer, file: string): string {
  // Both checks are native and take microseconds; ASCII, the common case, decodes fastest as latin1.
  if (isAscii(bytes)) return bytes.toString('latin1');
  if (isUtf8(bytes)) return bytes.toString('utf8');
  const decoded = Buffer.from(bytes.toString('utf8'));
  let offset = 0;
  while (offset < bytes.length && bytes[offset] === decoded[offset]) offset++;
  const why = 'it was left as it is, since rewriting it would change bytes nobody meant to change. Convert it to UTF-8 first.';
  throw fileError('EILSEQ', 'read', file, `${file} is not UTF-8 text (byte ${offset} is not): ${why}`);
}
