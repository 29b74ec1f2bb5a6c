// What this machine and runtime offer the tests: flock(2) (not on Windows), the peer programs
// that take the same locks, and what the runtime survives. A test that needs one declares it, and
// is skipped, saying why, where it is missing, rather than failing for a reason that has nothing
// to do with the package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

const found = (command, args) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;

export const needs = {
  flock: process.platform === 'win32' ? 'flock(2) does not exist on Windows' : undefined,
  flockCommand: found('flock', ['--version']) ? undefined : 'flock(1) is not installed',
  python: found('python3', ['-c', 'import fcntl']) ? undefined : 'python3 with fcntl is not available',
  bash: found('bash', ['-c', 'true']) ? undefined : 'bash is not available',
  strace: found('strace', ['-V']) ? undefined : 'strace is not installed (it counts the fsyncs)',
  proc: existsSync('/proc/self/status') ? undefined : 'there is no /proc to count threads and descriptors in',
  // A child that cannot see /proc/locks, as on platforms without it: a mount namespace, as root.
  hiddenLockTable: found('unshare', ['-m', 'sh', '-c', 'mount --bind /dev/null /proc/locks']) ? undefined : 'cannot hide /proc/locks (needs root and unshare -m)',
  // Seen with Deno 2.9.6: "panicked at ext/signals/lib.rs: Too many open files", now and then.
  runtimeWithoutDescriptors: process.versions.deno ? 'Deno itself panics at times when its process has no descriptor left' : undefined,
};

/**
 * testWhere returns node:test's `test`, with every test skipped (with the first missing thing
 * as the reason) unless all of `reasons` are undefined.
 */
export function testWhere(...reasons) {
  const missing = reasons.find(Boolean);
  if (!missing) return test;
  return (name, ...rest) => test(name, { skip: missing }, () => {});
}
