// The implementations the benchmark puts side by side, each behind the same two calls:
//   lock(path)           resolves with a release function once the exclusive lock on `path` is held
//   update(path, concept) one persona update (change, below) of a JSONC file under that lock
// Peers run with their defaults, except that waiting polls briefly (their defaults fail at once
// or poll every 100 ms) and abandoned locks go stale after PEER_STALE_MS.
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { applyEdits, modify, parse } from 'jsonc-parser';
import { lock, updateJsonc } from '../dist/index.js';

const require = createRequire(import.meta.url);

/** What each persona update does: one more save, one more concept, comments kept. */
export function change(draft, concept) {
  draft.saves += 1;
  draft.concepts.push(concept);
}

// The peers' read-modify-write: the same change made with jsonc-parser edits (so comments stay),
// written with write-file-atomic (temp file, fsync, rename), as an app using them would.
async function editAndWrite(path, concept) {
  const writeFileAtomic = require('write-file-atomic');
  const text = await readFile(path, 'utf8');
  const saves = parse(text).saves + 1;
  let edited = applyEdits(text, modify(text, ['saves'], saves, {}));
  edited = applyEdits(edited, modify(edited, ['concepts', -1], concept, { isArrayInsertion: true }));
  await writeFileAtomic(path, edited);
}

/** The lock waits (ms from asking to holding) in this process while collecting, else undefined. */
let waits;
// lockedfile takes its lock inside updateJsonc and reports the wait on a diagnostics channel,
// listened to only while collecting: a subscriber makes every lock build its event.
const onAcquire = ({ waitMs }) => waits?.push(waitMs);

/** Starts collecting lock waits; the function it returns stops and returns them. */
export function collectWaits() {
  waits = [];
  subscribe('lockedfile:acquire', onAcquire);
  return () => {
    unsubscribe('lockedfile:acquire', onAcquire);
    const collected = waits;
    waits = undefined;
    return collected;
  };
}

function withPeerLock(lockFn) {
  return async (path, concept) => {
    const asked = performance.now();
    const release = await lockFn(path);
    waits?.push(performance.now() - asked);
    try {
      await editAndWrite(path, concept);
    } finally {
      await release();
    }
  };
}

/** Milliseconds after which a peer treats a lock as abandoned: proper-lockfile's minimum. */
export const PEER_STALE_MS = 2000;

function lockedfile(backend) {
  return {
    name: `lockedfile/${backend}`,
    ours: true,
    setting: backend === 'flock' ? 'kernel drops the lock of a dead holder' : 'pid-file lock, default polls (5 ms doubling to 100 ms); a dead holder is seen at the next poll',
    lock: async (path) => {
      const handle = await lock(path, { backend });
      return () => handle.release();
    },
    update: (path, concept, fsync = true) => updateJsonc(path, (draft) => change(draft, concept), { backend, fsync }),
    // Ours offer the peers' durability too (data fsynced, the rename not): see the persona scenario.
    durabilities: [true, 'data'],
  };
}

const properLockfile = {
  name: 'proper-lockfile',
  setting: `mkdir lock, stale ${PEER_STALE_MS} ms (its minimum), retry 1 ms growing 1.5x to 20 ms`,
  lock: (path) =>
    require('proper-lockfile').lock(path, {
      stale: PEER_STALE_MS,
      retries: { forever: true, factor: 1.5, minTimeout: 1, maxTimeout: 20 },
    }),
};
properLockfile.update = withPeerLock(properLockfile.lock);

const npmLockfile = {
  name: 'lockfile',
  setting: `O_EXCL lock file, poll every 1 ms, stale ${PEER_STALE_MS} ms (by default it has none: a dead holder's lock stays forever)`,
  lock: async (path) => {
    const { lock: take, unlock } = require('lockfile');
    const lockfilePath = `${path}.lock`;
    await promisify(take)(lockfilePath, { wait: 2 ** 31 - 1, pollPeriod: 1, stale: PEER_STALE_MS });
    return () => promisify(unlock)(lockfilePath);
  },
};
npmLockfile.update = withPeerLock(npmLockfile.lock);

// fs-ext's flock blocks a libuv pool thread while it waits: open, flock, unlock, close per cycle.
const fsExt = {
  name: 'fs-ext',
  setting: 'flock(2) in the libuv thread pool; kernel drops the lock of a dead holder',
  lock: async (path) => {
    const flock = promisify(require('fs-ext').flock);
    const fd = openSync(`${path}.lock`, 'a');
    try {
      await flock(fd, 'ex');
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return async () => {
      await flock(fd, 'un');
      closeSync(fd);
    };
  },
};
fsExt.update = withPeerLock(fsExt.lock);

/** The implementations in table order; `missing` says why one cannot run here. */
export const impls = [lockedfile('flock'), lockedfile('pidfile'), properLockfile, npmLockfile, fsExt].map((impl) => ({
  ...impl,
  missing: impl.ours ? undefined : unavailable(impl.name),
}));

/** Why a peer (its npm name is its name) or write-file-atomic, which every peer needs, cannot load. */
function unavailable(name) {
  try {
    require(name);
    require('write-file-atomic');
    return undefined;
  } catch (error) {
    return `not installed or not built (${error.code ?? error.message})`;
  }
}

/** The lossy baseline for the persona scenario: the same read-modify-write with no lock. */
export const unlocked = { name: 'no lock (lossy)', update: editAndWrite };

export function implNamed(name) {
  const impl = [...impls, unlocked].find((candidate) => candidate.name === name);
  if (!impl) throw new Error(`bench: no implementation named ${name}`);
  return impl;
}
