// The holder record: who holds a lock, written into the lock file by the holder, so that a
// timeout, the debug log or `lockedfile status` can say "held by pid 4242 (node a.js) on host h".
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { hostname } from 'node:os';
import { type FlockHolder, isAlive, pidNamespace, processCommand, processStartTime, shortCommand } from '../common/process.js';

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
  /** Linux: the holder's pid namespace ("pid:[4026531836]"): a pid means something only inside it. */
  pidns?: string;
}

let own: HolderRecord | undefined;

/** ownIdentity is this process's record, without the per-acquisition fields. */
export function ownIdentity(): HolderRecord {
  own ??= {
    pid: process.pid,
    hostname: hostname(),
    started: processStartTime(process.pid) ?? Math.round(Date.now() - process.uptime() * 1000),
    command: shortCommand([process.argv0, ...process.argv.slice(1)]),
  };
  const pidns = pidNamespace();
  if (pidns !== undefined) own.pidns = pidns;
  return own;
}

/** The most text a record may take, padding included. */
export const MAX_RECORD_BYTES = 4096;
const MAX_RECORD = MAX_RECORD_BYTES;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PIDNS = /^pid:\[\d+\]$/;
/** Printable, no control characters (the hostname and command end up in messages and logs). */
const PRINTABLE = /^[^\p{C}]{1,255}$/u;
const COMMAND = /^[^\p{C}]{0,300}$/u;
const KEYS = new Set(['pid', 'hostname', 'started', 'command', 'since', 'nonce', 'pidns']);

function finite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * parseRecord reads a record written by any version of this package; undefined for anything
 * else. The text comes from a file anyone with write access to the folder may have written, so
 * it is checked strictly: known keys only, each of the right type and bounded, the nonce a UUID
 * (it names files), the whole at most 4 KiB. Trailing whitespace (padding) is allowed.
 */
export function parseRecord(text: string): HolderRecord | undefined {
  if (text.length > MAX_RECORD) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.trimEnd());
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (!Object.keys(record).every((key) => KEYS.has(key))) return undefined;
  const { pid, hostname, started = 0, command = '', since, nonce, pidns } = record;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || pid >= 2 ** 31) return undefined;
  if (typeof hostname !== 'string' || !PRINTABLE.test(hostname)) return undefined;
  if (!finite(started) || typeof command !== 'string' || !COMMAND.test(command)) return undefined;
  if (since !== undefined && !finite(since)) return undefined;
  if (nonce !== undefined && (typeof nonce !== 'string' || !UUID.test(nonce))) return undefined;
  if (pidns !== undefined && (typeof pidns !== 'string' || !PIDNS.test(pidns))) return undefined;
  return {
    pid,
    hostname,
    started,
    command,
    ...(since !== undefined && { since }),
    ...(nonce !== undefined && { nonce }),
    ...(pidns !== undefined && { pidns }),
  };
}

/**
 * isLocal says whether a record's pid can be checked here: same host and same pid namespace (a
 * record without a namespace matches only where we have none either). Any other record is judged
 * like one from another host: by its refresh.
 */
export function isLocal(record: HolderRecord): boolean {
  return record.hostname === ownIdentity().hostname && record.pidns === ownIdentity().pidns;
}

/**
 * isDead says whether a record's process has certainly exited: it ran on this host, in this pid
 * namespace, and its pid is gone, or now belongs to a process that started at another time. A
 * record from another host or namespace is never known to be dead.
 */
export function isDead(record: HolderRecord): boolean {
  if (!isLocal(record)) return false;
  const self = record.pid === process.pid;
  if (!self && !isAlive(record.pid)) return true;
  const started = self ? ownIdentity().started : processStartTime(record.pid);
  // Start times measured twice may differ by rounding; a reused pid's differ by far more.
  return started !== undefined && record.started > 0 && Math.abs(started - record.started) > 1000;
}

/** describe renders a record as "pid 4242 (node a.js) on host h since 12:00:01". */
export function describe(record: HolderRecord): string {
  const since = record.since ?? record.started;
  const what = record.since === undefined ? 'running since' : 'since';
  return `pid ${record.pid} (${record.command}) on host ${record.hostname} ${what} ${clock(since)}`;
}

function clock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

/**
 * describeProcess renders a live process of this host as describe() does, from what the OS says
 * of it; a process that has exited is named as the one that took the lock and passed it on.
 */
export function describeProcess(pid: number): string {
  if (pid <= 0) return 'a process outside this pid namespace';
  if (!isAlive(pid)) return `a process that pid ${pid} (now exited) passed the lock file's descriptor to`;
  const started = processStartTime(pid);
  const since = started === undefined ? '' : ` running since ${clock(started)}`;
  return `pid ${pid} (${processCommand(pid) ?? 'command unknown'}) on host ${ownIdentity().hostname}${since}`;
}

/** LockHolder is a process that holds a lock, as far as this host can tell. */
export interface LockHolder {
  /** Its pid on its host; 0 for a process outside this pid namespace. */
  readonly pid: number;
  readonly hostname: string;
  /** Its command line, shortened ("node persona.js"), where known. */
  readonly command?: string;
  /** When it took the lock (ms since the epoch), where recorded. */
  readonly since?: number;
  /** Whether it holds the lock shared. */
  readonly shared: boolean;
  /** One line naming it, as messages do: "pid 4242 (node a.js) on host h since 12:00:01". */
  readonly description: string;
}

/** holderFromRecord is the holder a lock file's record names. */
export function holderFromRecord(record: HolderRecord): LockHolder {
  const { pid, hostname, command, since } = record;
  return { pid, hostname, command, ...(since !== undefined && { since }), shared: false, description: describe(record) };
}

/**
 * holderFromKernel is a holder from the kernel's list: named by the lock file's record where the
 * record's process is the one holding (it knows more), else by what the OS says of the process.
 */
export function holderFromKernel({ pid, shared }: FlockHolder, record: HolderRecord | undefined): LockHolder {
  if (record && record.pid === pid && isLocal(record) && !isDead(record)) return { ...holderFromRecord(record), shared };
  const command = pid > 0 ? processCommand(pid) : undefined;
  return { pid, hostname: ownIdentity().hostname, ...(command !== undefined && { command }), shared, description: describeProcess(pid) };
}

/** describeHolders names holders in one line: the first three, and how many more. */
export function describeHolders(holders: readonly LockHolder[]): string | undefined {
  if (holders.length === 0) return undefined;
  const named = holders.slice(0, 3).map((holder) => holder.description);
  const more = holders.length > 3 ? ` and ${holders.length - 3} more` : '';
  return `${named.join(', ')}${more}`;
}

/** recordOf is the record a lock file holds, if it holds a valid one. */
export function recordOf(lockfilePath: string): HolderRecord | undefined {
  const text = readLockFile(lockfilePath);
  return text === undefined ? undefined : parseRecord(text);
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
