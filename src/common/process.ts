// What the operating system tells about other processes: whether one is alive, when it started
// (so that a reused pid is not mistaken for the process that wrote a record), its command line,
// and which processes hold flock locks on a file.
import { closeSync, lstatSync, openSync, readFileSync, readSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { errorCode } from './errors.js';

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

/** Control characters (newlines, escape sequences) from another process's text, made visible. */
export function printable(text: string): string {
  return text.replace(/\p{C}/gu, '?');
}

/**
 * processCommand returns a process's command line as shortCommand shows it ("node persona.js");
 * undefined where the platform does not say (or the process is gone).
 */
export function processCommand(pid: number): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return words.length === 0 ? undefined : shortCommand(words);
  } catch {
    return undefined;
  }
}

/** A command line as records and messages show it: each word's last path part, at most 200 characters, printable. */
export function shortCommand(words: readonly string[]): string {
  return printable(words.map((word) => basename(word)).join(' ').slice(0, 200));
}

/** One flock(2) lock on a file, as the kernel lists it. */
export interface FlockHolder {
  /** The process that took the lock; it may have exited since, leaving the lock to a process it passed the descriptor to. */
  readonly pid: number;
  readonly shared: boolean;
}

/** The kernel's name for a file in /proc/locks: major:minor:inode, the device numbers in hex. */
function lockedName(dev: bigint, ino: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${ino}`;
}

const FLOCK_LINE = /^\d+:\s+FLOCK\s+\S+\s+(READ|WRITE)\s+(\d+)\s+([0-9a-f]+:[0-9a-f]+:\d+)\s/;

/**
 * flockHolders lists the flock(2) locks held on `file` (not the waits for them), from Linux's
 * /proc/locks; undefined where the platform cannot tell (not Linux, no /proc, no such file).
 */
export function flockHolders(file: string): FlockHolder[] | undefined {
  if (process.platform !== 'linux') return undefined;
  let name: string;
  let table: string;
  let whole: boolean;
  try {
    const info = lstatSync(file, { bigint: true });
    name = lockedName(info.dev, info.ino);
    ({ text: table, whole } = readBounded('/proc/locks', MAX_LOCKS_TABLE));
  } catch {
    return undefined;
  }
  const holders: FlockHolder[] = [];
  for (const line of table.split('\n')) {
    const match = FLOCK_LINE.exec(line);
    if (match?.[3] === name) holders.push({ pid: Number(match[2]), shared: match[1] === 'READ' });
  }
  // Past the bound the holders may be listed further on: then the kernel has not said.
  return holders.length > 0 || whole ? holders : undefined;
}

/**
 * How much of /proc/locks is read: thousands of locks. The kernel builds the table while it is
 * read, under its locks, and this runs on the event loop: a machine holding a million locks
 * must not stall a timeout's report for seconds.
 */
const MAX_LOCKS_TABLE = 256 * 1024;

/** The first `limit` bytes of a file, and whether that is all of it. */
function readBounded(file: string, limit: number): { text: string; whole: boolean } {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(limit);
    let length = 0;
    for (let read = -1; read !== 0 && length < limit; length += read) read = readSync(fd, buffer, length, limit - length, null);
    // A line cut at the bound is dropped: it could name another inode.
    const text = buffer.toString('latin1', 0, length);
    return length < limit ? { text, whole: true } : { text: text.slice(0, text.lastIndexOf('\n') + 1), whole: false };
  } finally {
    closeSync(fd);
  }
}
