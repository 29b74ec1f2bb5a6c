// The holder record: who holds a lock, written into the lock file by the holder, so that a
// timeout, the debug log or `lockedfile status` can say "held by pid 4242 (node a.js) on host h".
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

/** parseRecord reads a record written by any version of this package; undefined if unreadable. */
export function parseRecord(text: string): HolderRecord | undefined {
  try {
    const record = JSON.parse(text) as Partial<HolderRecord>;
    if (typeof record.pid !== 'number' || typeof record.hostname !== 'string') return undefined;
    return {
      pid: record.pid,
      hostname: record.hostname,
      started: Number(record.started) || 0,
      command: String(record.command ?? ''),
      ...(typeof record.since === 'number' && { since: record.since }),
      ...(typeof record.nonce === 'string' && { nonce: record.nonce }),
    };
  } catch {
    return undefined;
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
