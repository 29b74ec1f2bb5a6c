// What the operating system tells about other processes: whether one is alive, and when it
// started (so that a reused pid is not mistaken for the process that wrote a record).
import { readFileSync } from 'node:fs';

/** isAlive reports whether a process with this pid exists on this host. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux reports start times in clock ticks since boot; USER_HZ is 100 on every Linux ABI. */
const USER_HZ = 100;
let bootTimeMs: number | undefined;

/**
 * processStartTime returns when a process started (ms since the epoch), where the platform says
 * (Linux, from /proc), else undefined.
 */
export function processStartTime(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    bootTimeMs ??= Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1]) * 1000;
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(ticks) && bootTimeMs ? bootTimeMs + (ticks * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}
