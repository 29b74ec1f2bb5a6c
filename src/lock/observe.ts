// What the lock layer tells the outside: counters and timings (getMetrics), debug lines
// (NODE_DEBUG=lockedfile) and diagnostics_channel events (lockedfile:*). Each costs nothing
// measurable when nobody listens.
import { channel } from 'node:diagnostics_channel';
import { resolve } from 'node:path';
import { debuglog } from 'node:util';
import { toPath } from '../common/paths.js';

/** Summary of a set of durations, in milliseconds. */
export interface DurationSummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** LockMetrics are lock counters since the process started (or since `resetMetrics`): the process's, or one path's. */
export interface LockMetrics {
  /** Locks granted, nested holds included. */
  acquired: number;
  /** Locks released, nested holds included. */
  released: number;
  /** Acquisitions that had to wait for another holder, in this process or another. */
  contended: number;
  timeouts: number;
  aborted: number;
  /** Takeovers of stale pid-file locks. */
  takeovers: number;
  /** Locks held right now. */
  held: number;
  /** Time from asking to holding, for every granted lock. */
  waitMs: DurationSummary;
  /** Time from holding to release. */
  holdMs: DurationSummary;
}

/**
 * Histogram keeps durations in buckets growing by 5%, from 1 µs up, so p50 and p99 are within
 * 5% of the truth in constant memory whatever the number of samples. Only buckets in use are
 * stored: a path's figures take a few dozen.
 */
class Histogram {
  private static readonly floorMs = 0.001;
  private static readonly logGrowth = Math.log(1.05);
  private static readonly lastBucket = 511;
  private readonly buckets = new Map<number, number>();
  private count = 0;
  private max = 0;

  record(ms: number): void {
    const index = ms <= Histogram.floorMs ? 0 : Math.min(Histogram.lastBucket, Math.ceil(Math.log(ms / Histogram.floorMs) / Histogram.logGrowth));
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count += 1;
    if (ms > this.max) this.max = ms;
  }

  summary(): DurationSummary {
    return { count: this.count, p50: this.quantile(0.5), p99: this.quantile(0.99), max: this.max };
  }

  private quantile(q: number): number {
    if (this.count === 0) return 0;
    let seen = 0;
    for (const index of [...this.buckets.keys()].sort((x, y) => x - y)) {
      seen += this.buckets.get(index)!;
      if (seen >= q * this.count) return Math.min(this.max, Histogram.floorMs * Math.exp(index * Histogram.logGrowth));
    }
    return this.max;
  }
}

/** The counters and timings of a process, or of one path in it. */
class Figures {
  acquired = 0;
  released = 0;
  contended = 0;
  timeouts = 0;
  aborted = 0;
  takeovers = 0;
  readonly waits = new Histogram();
  readonly holds = new Histogram();

  metrics(): LockMetrics {
    const { acquired, released, contended, timeouts, aborted, takeovers } = this;
    const held = acquired - released;
    return { acquired, released, contended, timeouts, aborted, takeovers, held, waitMs: this.waits.summary(), holdMs: this.holds.summary() };
  }
}

/** Paths whose figures are kept, the most recently used (and every held one): a process may lock millions of files. */
const MAX_PATHS = 1000;

let all = new Figures();
let byPath = new Map<string, Figures>();

/** The figures of the process and of the subject's path, that path made the most recently used. */
function figuresOf(subject: LockSubject): [Figures, Figures] {
  let mine = byPath.get(subject.path);
  if (mine) byPath.delete(subject.path);
  else mine = new Figures();
  byPath.set(subject.path, mine);
  if (byPath.size > MAX_PATHS) {
    // The least recently used path that nothing holds: a held path's release must find its figures.
    for (const [path, figures] of byPath) {
      if (figures.acquired > figures.released) continue;
      byPath.delete(path);
      break;
    }
  }
  return [all, mine];
}

/**
 * getMetrics returns a snapshot of this process's lock counters and timings; given a path, those
 * of the locks on that path (as given, made absolute, like a handle's `path`), kept for the 1,000
 * paths used most recently.
 */
export function getMetrics(path?: string | URL): LockMetrics {
  if (path === undefined) return all.metrics();
  return (byPath.get(resolve(toPath(path))) ?? new Figures()).metrics();
}

/** resetMetrics starts the counters and timings afresh (`held` stays consistent). */
export function resetMetrics(): void {
  const held = all.acquired - all.released;
  all = new Figures();
  all.acquired = held;
  const kept = new Map<string, Figures>();
  for (const [path, figures] of byPath) {
    const stillHeld = figures.acquired - figures.released;
    if (stillHeld <= 0) continue;
    const fresh = new Figures();
    fresh.acquired = stillHeld;
    kept.set(path, fresh);
  }
  byPath = kept;
}

/** What every event says about the lock it concerns. */
export interface LockEvent {
  pid: number;
  path: string;
  lockfilePath: string;
  backend: string;
  shared: boolean;
  /** wait, timeout: who holds it, if known; takeover: the holder whose stale lock was replaced. */
  holder?: string;
  /** acquire, timeout, abort: ms since the request. */
  waitMs?: number;
  /** release: ms the lock was held. */
  holdMs?: number;
}

const debug = debuglog('lockedfile');
const debugging = debugEnabled();

/**
 * Whether NODE_DEBUG names lockedfile. Node's debuglog says so (`enabled`); Bun's logs but has no
 * `enabled`, so NODE_DEBUG is read as Node reads it: names and `*` patterns, comma-separated.
 */
function debugEnabled(): boolean {
  if (typeof debug.enabled === 'boolean') return debug.enabled;
  return (process.env.NODE_DEBUG ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((name) => new RegExp(`^${name.replace(/[|\\{}()[\]^$+?.]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test('lockedfile'));
}
const channels = {
  acquire: channel('lockedfile:acquire'),
  wait: channel('lockedfile:wait'),
  release: channel('lockedfile:release'),
  timeout: channel('lockedfile:timeout'),
  abort: channel('lockedfile:abort'),
  takeover: channel('lockedfile:takeover'),
};

/** The event names; each is published on the diagnostics channel `lockedfile:<name>`. */
export type LockEventName = keyof typeof channels;

function listened(name: LockEventName): boolean {
  return debugging || channels[name].hasSubscribers;
}

function publish(name: LockEventName, event: LockEvent): void {
  if (debugging) {
    const ms = event.waitMs ?? event.holdMs;
    const timing = ms === undefined ? '' : ` ${event.holdMs === undefined ? 'waited' : 'held'}=${ms.toFixed(2)}ms`;
    const holder = event.holder ? ` holder=${event.holder}` : '';
    debug('%s pid=%d path=%s%s%s%s', name, event.pid, event.path, event.shared ? ' shared' : '', timing, holder);
  }
  if (channels[name].hasSubscribers) channels[name].publish(event);
}

/** Identifies the lock an event is about. */
export interface LockSubject {
  readonly path: string;
  readonly lockfilePath: string;
  readonly backend: { readonly name: string };
  readonly shared: boolean;
}

function event(subject: LockSubject, extra: Partial<LockEvent>): LockEvent {
  const { path, lockfilePath, backend, shared } = subject;
  return { pid: process.pid, path, lockfilePath, backend: backend.name, shared, ...extra };
}

export function onAcquired(subject: LockSubject, waitMs: number, contended: boolean): void {
  for (const figures of figuresOf(subject)) {
    figures.acquired += 1;
    if (contended) figures.contended += 1;
    figures.waits.record(waitMs);
  }
  if (listened('acquire')) publish('acquire', event(subject, { waitMs }));
}

export function onWaiting(subject: LockSubject, holder: () => string | undefined): void {
  if (!listened('wait')) return;
  const held = holder();
  publish('wait', event(subject, held === undefined ? {} : { holder: held }));
}

export function onReleased(subject: LockSubject, holdMs: number): void {
  for (const figures of figuresOf(subject)) {
    figures.released += 1;
    figures.holds.record(holdMs);
  }
  if (listened('release')) publish('release', event(subject, { holdMs }));
}

export function onGaveUp(subject: LockSubject, waitMs: number, reason: 'timeout' | 'abort', holder?: string): void {
  for (const figures of figuresOf(subject)) figures[reason === 'timeout' ? 'timeouts' : 'aborted'] += 1;
  if (listened(reason)) publish(reason, event(subject, holder === undefined ? { waitMs } : { waitMs, holder }));
}

export function onTakeover(subject: LockSubject, previous: string): void {
  for (const figures of figuresOf(subject)) figures.takeovers += 1;
  if (listened('takeover')) publish('takeover', event(subject, { holder: previous }));
}
