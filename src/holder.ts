// The holder record: who holds a lock, written into the lock file by the holder, so that a
// timeout, the debug log or `lockedfile status` can say "held by pid 4242 (node a.js) on host h".
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { isAlive, processStartTime } from './platform/process.js';

/** HolderRecord is what a lock file says about its holder. */
export interface HolderRecord {
  pid: number;
  hostname: string;
  /** When the holding process started (ms since the epoch). */
  started: number;
  /** The holding process's command line, shortened. */
  command: string;
  /** When the lock was taken (ms since the epoch), where the backend records it. */
  since?: number;
  /** pidfile: unique per acquisition, so a holder can tell its own lock file from a successor's. */
  nonce?: string;
}

let own: HolderRecord | undefined;

/** ownIdentity is this process's record, without the per-acquisition fields. */
export function ownIdentity(): HolderRecord {
  own ??= {
    pid: process.pid,
    hostname: hostname(),
    started: processStartTime(process.pid) ?? Math.round(Date.now() - process.uptime() * 1000),
    command: [basename(process.argv0), ...process.argv.slice(1).map((arg) => basename(arg))].join(' ').slice(0, 200),
  };
  return own;
}

/** No record of ours is longer; anything longer is another tool's file. */
export const MAX_RECORD_BYTES = 1024;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Printable, one line: what a hostname or a shortened command line can be.
const PRINTABLE = /^[^\u0000-\u001f\u007f]*$/;
const KEYS = new Set(['pid', 'hostname', 'started', 'command', 'since', 'nonce']);

function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max && PRINTABLE.test(value);
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * parseRecord reads a record written by any version of this package; undefined for anything
 * else. A lock file is untrusted input (another tool's file, or one written by an attacker):
 * every field is checked for shape, type and length, and no field is ever used as a path.
 */
export function parseRecord(text: string): HolderRecord | undefined {
  if (text.length > MAX_RECORD_BYTES) return undefined;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  if (!Object.keys(record).every((key) => KEYS.has(key))) return undefined;
  const { pid, hostname: host, started, command, since, nonce } = record;
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0 || (pid as number) >= 2 ** 31) return undefined;
  if (!isText(host, 255) || host === '') return undefined;
  // Optional only for the sake of hand-made records; every writer of this package sets both.
  if ((started !== undefined && !isTime(started)) || (command !== undefined && !isText(command, 300))) return undefined;
  if (since !== undefined && !isTime(since)) return undefined;
  if (nonce !== undefined && !(typeof nonce === 'string' && UUID.test(nonce))) return undefined;
  return {
    pid: pid as number,
    hostname: host,
    started: started ?? 0,
    command: command ?? '',
    ...(since !== undefined && { since }),
    ...(nonce !== undefined && { nonce }),
  };
}

/**
 * readLockFile returns the text of a lock file without ever blocking or following a symlink
 * (a FIFO planted at the lock path must not hang the reader); undefined if it is missing, not
 * a regular file, or unreadable.
 */
export function readLockFile(lockfilePath: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(lockfilePath, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0));
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const bytes = Buffer.alloc(MAX_RECORD_BYTES + 1);
    const length = readSync(fd, bytes, 0, bytes.length, 0);
    return bytes.toString('utf8', 0, length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * isDead says whether a record's process has certainly exited: it ran on this host and its pid
 * is gone, or now belongs to a process that started at another time. A record from another
 * host is never known to be dead.
 */
export function isDead(record: HolderRecord): boolean {
  if (record.hostname !== ownIdentity().hostname) return false;
  const self = record.pid === process.pid;
  if (!self && !isAlive(record.pid)) return true;
  const started = self ? ownIdentity().started : processStartTime(record.pid);
  // Start times measured twice may differ by rounding; a reused pid's differ by far more.
  return started !== undefined && record.started > 0 && Math.abs(started - record.started) > 1000;
}

/** describe renders a record as "pid 4242 (node a.js) on host h since 12:00:01". */
export function describe(record: HolderRecord): string {
  const since = record.since ?? record.started;
  const clock = new Date(since).toTimeString().slice(0, 8);
  const what = record.since === undefined ? 'running since' : 'since';
  return `pid ${record.pid} (${record.command}) on host ${record.hostname} ${what} ${clock}`;
}
