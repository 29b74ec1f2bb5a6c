// What the operating system tells about other processes: whether one is alive, and when it
// started (so that a reused pid is not mistaken for the process that wrote a record).
import { readFileSync, readlinkSync } from 'node:fs';
import { errorCode } from '../errors.js';

/**
 * The fields of /proc/<pid>/stat from the third on (state, ppid, ...), on Linux; else undefined.
 * The command name (field 2) may hold spaces and parentheses, so fields count from the last ')'.
 */
function procStat(pid: number): string[] | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * isAlive reports whether a process with this pid is running on this host. A zombie (killed,
 * not yet reaped by its parent) is not: it can never release anything again.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    if (errorCode(error) !== 'EPERM') return false;
  }
  const state = procStat(pid)?.[0];
  return state !== 'Z' && state !== 'X';
}

/** Linux reports start times in clock ticks since boot; USER_HZ is 100 on every Linux ABI. */
const USER_HZ = 100;
let bootTimeMs: number | undefined;

/**
 * processStartTime returns when a process started (ms since the epoch), where the platform says
 * (Linux, from /proc), else undefined.
 */
export function processStartTime(pid: number): number | undefined {
  const fields = procStat(pid);
  if (!fields) return undefined;
  try {
    bootTimeMs ??= Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1]) * 1000;
  } catch {
    return undefined;
  }
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) && bootTimeMs ? bootTimeMs + (ticks * 1000) / USER_HZ : undefined;
}

/**
 * pidNamespace names this process's pid namespace on Linux ("pid:[4026531836]"), else
 * undefined. Two containers on one host share a hostname but not their pids.
 */
export function pidNamespace(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}
