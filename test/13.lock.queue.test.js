import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { LockError, LockTimeoutError, getMetrics, lock, lockSync, tryLock, tryLockSync, withLock } from 'lockedfile';
import { Gate } from '../dist/lock/gate.js';
import { holdLock, releaseAndWait, run, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';

/** Whether another process can take the lock on `path` right now (flock(1) on the lock file). */
async function freeForOthers(path, mode = '-x') {
  const { code } = await run('flock', ['-n', mode, `${path}.lock`, 'true']);
  return code === 0;
}

// ---------------------------------------------------------------------------------------------
// The Gate against a model. The driver plays lock.ts's part: it enters requests, takes the fast
// path (canStartNow + startNow), and ends each started request with acquired() or failed(), the
// way a backend grant, a timeout or an abort would; holders release. The model is what the Gate
// promises: FIFO, one request acquiring at a time, readers-writer exclusion, nobody forgotten.
// ---------------------------------------------------------------------------------------------

/** Whether a request (shared or not) may join `holders` (id -> shared). */
function compatible(holders, shared) {
  if (holders.size === 0) return true;
  return shared && [...holders.values()].every(Boolean);
}

class GateModel {
  constructor() {
    /** id -> { shared, onStart, state: 'queued' | 'acquiring' | 'holding' | 'released' | 'failed' } */
    this.requests = new Map();
    /** Ids waiting for their turn, in the order they entered. */
    this.queue = [];
    this.acquiring = undefined;
    /** id -> shared, for the requests holding the lock. */
    this.holders = new Map();
    /** Ids in the order they first entered the gate (enter or the fast path). */
    this.entered = [];
    /** Ids in the order they were granted the lock. */
    this.granted = [];
    this.gate = new Gate((id) => this.onStart(id));
  }

  /** The Gate's start callback: the request at the head of the queue goes to the backend. */
  onStart(id) {
    const request = this.requests.get(id);
    assert.equal(request?.state, 'queued', `start(${id}) for a request that is ${request?.state}`);
    assert.equal(this.acquiring, undefined, `start(${id}) while request ${this.acquiring} is still acquiring`);
    assert.equal(this.queue[0], id, `start(${id}) out of FIFO order: queue is [${this.queue}]`);
    assert.ok(compatible(this.holders, request.shared), `start(${id}, ${request.shared ? 'shared' : 'exclusive'}) while holders are ${JSON.stringify([...this.holders])}`);
    this.queue.shift();
    this.acquiring = id;
    request.state = 'acquiring';
    // lock.ts tries the backend at once inside start: a grant (or an error) reenters the Gate.
    if (request.onStart === 'grant') this.acquired(id);
    else if (request.onStart === 'fail') this.failed(id);
  }

  enter(id, shared, onStart) {
    this.requests.set(id, { shared, onStart, state: 'queued' });
    this.entered.push(id);
    this.queue.push(id);
    this.gate.enter(id, shared);
  }

  /** lock.ts's fast path: start at once if nobody is ahead, else (or if the kernel says busy) queue. */
  fastPath(id, shared, busy, onStart) {
    const expected = this.acquiring === undefined && this.queue.length === 0 && compatible(this.holders, shared);
    assert.equal(this.gate.canStartNow(shared), expected, `canStartNow(${shared ? 'shared' : 'exclusive'})`);
    if (!expected) return this.enter(id, shared, onStart);
    this.requests.set(id, { shared, onStart, state: 'acquiring' });
    this.entered.push(id);
    this.acquiring = id;
    this.gate.startNow(id, shared);
    if (!busy) return this.acquired(id);
    // Held by another process: give the turn back and wait like everyone else.
    this.acquiring = undefined;
    this.gate.failed(id);
    this.requests.get(id).state = 'queued';
    this.queue.push(id);
    this.gate.enter(id, shared);
  }

  acquired(id) {
    const request = this.requests.get(id);
    this.acquiring = undefined;
    this.holders.set(id, request.shared);
    request.state = 'holding';
    this.granted.push(id);
    this.gate.acquired(id);
  }

  /** A timeout, abort or error: of the acquiring request, or of one still queued. */
  failed(id) {
    const request = this.requests.get(id);
    if (this.acquiring === id) this.acquiring = undefined;
    else this.queue.splice(this.queue.indexOf(id), 1);
    request.state = 'failed';
    this.gate.failed(id);
  }

  release(id) {
    this.holders.delete(id);
    this.requests.get(id).state = 'released';
    this.gate.release(id);
  }

  /** What must hold between any two calls. */
  check() {
    const { gate } = this;
    assert.equal(gate.acquiring, this.acquiring, 'the acquiring request');
    assert.deepEqual(new Map(gate.holders), this.holders, 'the holders');
    assert.equal(gate.waiting, this.queue.length, 'the number waiting');
    const exclusive = [...gate.holders].filter(([, shared]) => !shared);
    if (exclusive.length > 0) assert.equal(gate.holders.size, 1, `exclusive holder ${exclusive[0][0]} overlaps ${JSON.stringify([...gate.holders])}`);
    // Nobody waits for nothing: if no request is acquiring, the head of the queue is blocked by a holder.
    if (this.acquiring === undefined && this.queue.length > 0) {
      const head = this.requests.get(this.queue[0]);
      assert.ok(!compatible(this.holders, head.shared), `request ${this.queue[0]} waits though nothing is in its way (holders ${JSON.stringify([...this.holders])})`);
    }
    assert.equal(gate.idle, this.acquiring === undefined && this.queue.length === 0 && this.holders.size === 0, 'idle');
  }

  /** Lets every holder go and grants every request that can be granted, until nothing moves. */
  drain() {
    for (let steps = 0; steps < 10_000; steps++) {
      if (this.acquiring !== undefined) this.acquired(this.acquiring);
      else if (this.holders.size > 0) this.release(this.holders.keys().next().value);
      else return;
      this.check();
    }
    assert.fail('the gate never came to rest');
  }
}

const onStartArb = fc.constantFrom('wait', 'wait', 'grant', 'fail');
const gateActionArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant('enter'), shared: fc.boolean(), onStart: onStartArb }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('fastPath'), shared: fc.boolean(), busy: fc.boolean(), onStart: onStartArb }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('acquired') }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('failAcquiring') }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('failQueued'), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('release'), pick: fc.nat() }) },
);

/** Plays `actions` against a fresh Gate (actions with no target do nothing), then drains it. */
function playGate(actions) {
  const model = new GateModel();
  let next = 0;
  for (const action of actions) {
    switch (action.type) {
      case 'enter':
        model.enter(next++, action.shared, action.onStart);
        break;
      case 'fastPath':
        model.fastPath(next++, action.shared, action.busy, action.onStart);
        break;
      case 'acquired':
        if (model.acquiring !== undefined) model.acquired(model.acquiring);
        break;
      case 'failAcquiring':
        if (model.acquiring !== undefined) model.failed(model.acquiring);
        break;
      case 'failQueued':
        if (model.queue.length > 0) model.failed(model.queue[action.pick % model.queue.length]);
        break;
      case 'release':
        if (model.holders.size > 0) model.release([...model.holders.keys()][action.pick % model.holders.size]);
        break;
    }
    model.check();
  }
  model.drain();
  return model;
}

test('Gate property: exclusive holders never overlap, one request acquires at a time, starts are FIFO', () => {
  // The assertions live in the model's start callback and check(), run after every action.
  fc.assert(fc.property(fc.array(gateActionArb, { maxLength: 80 }), (actions) => void playGate(actions)), { numRuns: 1000 });
});

test('Gate property: once holders release, every request that did not give up is granted, in the order they entered, and the gate ends idle', () => {
  fc.assert(
    fc.property(fc.array(gateActionArb, { maxLength: 80 }), (actions) => {
      const model = playGate(actions);
      for (const [id, request] of model.requests) {
        assert.ok(request.state === 'released' || request.state === 'failed', `request ${id} was lost while ${request.state}`);
      }
      const survivors = model.entered.filter((id) => model.requests.get(id).state !== 'failed');
      assert.deepEqual(model.granted, survivors, 'granted in the order they entered');
      assert.equal(model.gate.idle, true);
      assert.equal(model.gate.holders.size, 0);
      assert.equal(model.gate.acquiring, undefined);
      assert.equal(model.gate.waiting, 0);
    }),
    { numRuns: 1000 },
  );
});

test('Gate: a shared request waits behind a queued exclusive one even while only shared holders hold (no writer starvation)', () => {
  const model = new GateModel();
  model.enter('reader-1', true, 'grant');
  model.enter('writer', false, 'wait');
  model.enter('reader-2', true, 'wait');
  model.check();
  assert.deepEqual([...model.gate.holders.keys()], ['reader-1']);
  assert.equal(model.gate.acquiring, undefined);
  assert.equal(model.gate.waiting, 2);
  model.release('reader-1');
  assert.equal(model.gate.acquiring, 'writer');
  model.drain();
  assert.deepEqual(model.granted, ['reader-1', 'writer', 'reader-2']);
});

// ---------------------------------------------------------------------------------------------
// The real lock(): queueing, timeouts and aborts together, on one path, in one process (and, in
// half the runs, against a flock(1) process that holds the lock at first).
// ---------------------------------------------------------------------------------------------

const requestArb = fc.record({
  shared: fc.boolean(),
  startAt: fc.integer({ min: 0, max: 4 }),
  holdFor: fc.integer({ min: 0, max: 4 }),
  timeout: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 15 })),
  abortAt: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant('before') },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 15 }) },
  ),
});
const scenarioArb = fc.record({
  requests: fc.array(requestArb, { minLength: 1, maxLength: 10 }),
  outsider: fc.option(fc.record({ shared: fc.boolean(), holdMs: fc.integer({ min: 5, max: 30 }) }), { nil: undefined, freq: 2 }),
});

/** Whether tryLock gets `path` within `ms`: an abandoned kernel wait may hold it for an instant. */
async function eventuallyFree(path, ms = 3000) {
  const until = performance.now() + ms;
  for (;;) {
    const handle = await tryLock(path);
    if (handle) {
      handle.release();
      return true;
    }
    if (performance.now() > until) return false;
    await delay(5);
  }
}

test('lock() property: concurrent shared/exclusive requests with timeouts and aborts never overlap, each resolves or rejects as asked, and nothing stays held', async (t) => {
  const dir = tempDir(t);
  let runs = 0;
  const tally = { granted: 0, timedOut: 0, aborted: 0, contended: 0 };
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(scenarioArb, async ({ requests, outsider }) => {
      const path = join(dir, `state-${runs++}.json`);
      const before = getMetrics();
      let external;
      if (outsider) {
        external = spawnChild(t, 'flock', [outsider.shared ? '-s' : '-x', `${path}.lock`, 'sh', '-c', `echo locked; sleep ${outsider.holdMs / 1000}`]);
        await external.next('locked');
      }
      const active = { shared: 0, exclusive: 0 };
      const overlaps = [];
      const outcomes = await Promise.all(
        requests.map(async (request, index) => {
          await delay(request.startAt);
          const reason = new Error(`abort of request ${index}`);
          let signal;
          if (request.abortAt === 'before') signal = AbortSignal.abort(reason);
          else if (request.abortAt !== undefined) {
            const controller = new AbortController();
            setTimeout(() => controller.abort(reason), request.abortAt);
            signal = controller.signal;
          }
          let handle;
          try {
            handle = await lock(path, { shared: request.shared, timeout: request.timeout, signal });
          } catch (error) {
            return { index, error, reason };
          }
          if (active.exclusive > 0 || (!request.shared && active.shared > 0)) {
            overlaps.push(`request ${index} (${request.shared ? 'shared' : 'exclusive'}) granted while ${JSON.stringify(active)} held`);
          }
          const kind = request.shared ? 'shared' : 'exclusive';
          active[kind] += 1;
          await delay(request.holdFor);
          active[kind] -= 1;
          handle.release();
          return { index, handle };
        }),
      );
      if (external) await external.exited;
      assert.deepEqual(overlaps, []);
      for (const { index, error, reason, handle } of outcomes) {
        const request = requests[index];
        if (handle) {
          assert.equal(handle.shared, request.shared, `request ${index}: the kind of lock asked for`);
        } else if (error instanceof LockTimeoutError) {
          assert.notEqual(request.timeout, undefined, `request ${index} timed out without a timeout`);
          assert.equal(error.path, path);
        } else {
          assert.equal(error, reason, `request ${index} rejected with something else than its abort reason: ${error?.stack ?? error}`);
          assert.notEqual(request.abortAt, undefined);
        }
      }
      assert.equal(await eventuallyFree(path), true, 'the lock is free once every request has settled');
      const after = getMetrics();
      assert.equal(after.held, before.held, 'getMetrics().held is back where it started');
      tally.granted += outcomes.filter((outcome) => outcome.handle).length;
      tally.timedOut += outcomes.filter((outcome) => outcome.error instanceof LockTimeoutError).length;
      tally.aborted += outcomes.filter((outcome) => outcome.error && outcome.error === outcome.reason).length;
      tally.contended += after.contended - before.contended;
    }),
    { numRuns: 100 },
  );
  t.diagnostic(`${runs} scenarios in ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify(tally)}`);
});

test('50 concurrent withLock calls on one path never overlap and run in the order they were called', async (t) => {
  const path = join(tempDir(t), 'a.json');
  let active = 0;
  let most = 0;
  const order = [];
  await Promise.all(
    Array.from({ length: 50 }, (_, index) =>
      withLock(path, async () => {
        active += 1;
        most = Math.max(most, active);
        order.push(index);
        await delay(index % 3 === 0 ? 1 : 0);
        active -= 1;
      }),
    ),
  );
  assert.equal(most, 1, 'at most one holder at a time');
  assert.deepEqual(order, Array.from({ length: 50 }, (_, index) => index));
  assert.equal(await freeForOthers(path), true);
});

// ---------------------------------------------------------------------------------------------
// Reentrancy. The holds of an async context live in an AsyncLocalStorage: a function captured
// with AsyncLocalStorage.snapshot() before withLock runs in a context that holds nothing, which
// is how "another caller in this process" is played here; flock(1) plays another process.
// ---------------------------------------------------------------------------------------------

test('inside withLock, lock() and withLock() on the same path are nested holds granted at once, and the outer hold outlives them', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const elsewhere = AsyncLocalStorage.snapshot();
  const inOtherContext = () => elsewhere(() => tryLockSync(path));
  let innerRan = false;
  await withLock(path, async (outer) => {
    // timeout 0: a request that had to queue behind the outer hold would time out at once.
    const inner = await lock(path, { timeout: 0 });
    assert.equal(inner.path, path);
    inner.release();
    assert.equal(inner.released, true);
    assert.equal(outer.released, false);
    assert.equal(await freeForOthers(path), false, 'another process still cannot take it');
    assert.equal(inOtherContext(), null, 'another async context of this process still cannot take it');

    const result = await withLock(
      path,
      async () => {
        innerRan = true;
        assert.equal(await freeForOthers(path), false);
        return 'inner result';
      },
      { timeout: 0 },
    );
    assert.equal(result, 'inner result');
    assert.equal(await freeForOthers(path), false, 'still held after the nested withLock returned');
    assert.equal(inOtherContext(), null);
    const sync = lockSync(path, { timeout: 0 });
    sync.release();
    assert.equal(await freeForOthers(path), false, 'still held after a nested lockSync released');
  });
  assert.equal(innerRan, true);
  assert.equal(await freeForOthers(path), true, 'free once the outer withLock returned');
  const after = inOtherContext();
  assert.ok(after, 'free for other async contexts too');
  after.release();
});

test('a relative spelling, a file: URL and a path through a symlinked folder are nested holds of the same lock', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  const absolute = join(dir, 'real', 'a.json');
  const spellings = [absolute, relative(process.cwd(), absolute), pathToFileURL(absolute), join(dir, 'link', 'a.json')];
  for (const outerSpelling of [absolute, join(dir, 'link', 'a.json')]) {
    await withLock(outerSpelling, async () => {
      for (const spelling of spellings) {
        const inner = await lock(spelling, { timeout: 0 });
        inner.release();
        assert.equal(await withLock(spelling, () => 'nested', { timeout: 0 }), 'nested');
      }
      assert.equal(await freeForOthers(absolute), false, 'the outer hold is intact');
    });
    assert.equal(await freeForOthers(absolute), true);
  }
});

test('code scheduled inside withLock that runs after it returned gets a real lock, not a nested hold on the released one', async (t) => {
  const path = join(tempDir(t), 'a.json');
  let later;
  await withLock(path, () => {
    // A fire-and-forget job started under the lock (it inherits the async context) that only
    // asks for the lock once withLock has released it.
    later = new Promise((resolve) => setTimeout(resolve, 20)).then(() => lock(path, { timeout: 5000 }));
  });
  const handle = await later;
  try {
    assert.equal(handle.released, false);
    assert.equal(await freeForOthers(path), false, 'the handle lock() returned must hold the lock');
  } finally {
    handle.release();
  }
});

test('asking for an exclusive lock inside a shared withLock rejects with ELOCKUPGRADE naming the path, without deadlocking', async (t) => {
  const path = join(tempDir(t), 'a.json');
  let innerRan = false;
  await withLock(
    path,
    async () => {
      // A bounded timeout: an implementation that queued the upgrade would wait on itself and time out.
      await assert.rejects(lock(path, { timeout: 3000 }), (error) => {
        assert.ok(error instanceof LockError, `got ${error?.stack ?? error}`);
        assert.equal(error.code, 'ELOCKUPGRADE');
        assert.equal(error.path, path);
        assert.ok(error.message.includes(path), error.message);
        return true;
      });
      await assert.rejects(
        withLock(path, () => (innerRan = true), { timeout: 3000 }),
        (error) => error instanceof LockError && error.code === 'ELOCKUPGRADE',
      );
      assert.throws(() => lockSync(path, { timeout: 3000 }), (error) => error instanceof LockError && error.code === 'ELOCKUPGRADE');
      // The shared hold is untouched: another process may share it, not take it exclusively.
      assert.equal(await freeForOthers(path, '-s'), true);
      assert.equal(await freeForOthers(path, '-x'), false);
      // A shared request nests fine.
      const shared = await lock(path, { shared: true, timeout: 0 });
      shared.release();
    },
    { shared: true },
  );
  assert.equal(innerRan, false);
  assert.equal(await freeForOthers(path), true, 'free once the shared withLock returned');
});

test('asking for a shared lock inside an exclusive withLock succeeds at once and keeps the lock exclusive', async (t) => {
  const path = join(tempDir(t), 'a.json');
  await withLock(path, async () => {
    const inner = await lock(path, { shared: true, timeout: 0 });
    assert.equal(await freeForOthers(path, '-s'), false, 'other processes cannot even share it');
    inner.release();
    assert.equal(await withLock(path, () => 'shared inside', { shared: true, timeout: 0 }), 'shared inside');
    assert.equal(await freeForOthers(path, '-s'), false, 'still exclusive after the shared nested holds');
  });
  assert.equal(await freeForOthers(path), true);
});

test('lockSync on a path this thread holds through lock() throws ELOCKHELD instead of blocking, and tryLockSync returns null', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const handle = await lock(path);
  // A bounded timeout: an implementation that blocked in the kernel would time out instead.
  assert.throws(
    () => lockSync(path, { timeout: 3000 }),
    (error) => {
      assert.ok(error instanceof LockError, `got ${error?.stack ?? error}`);
      assert.equal(error.code, 'ELOCKHELD');
      assert.equal(error.path, path);
      assert.ok(error.message.includes(path), error.message);
      return true;
    },
  );
  assert.equal(tryLockSync(path), null);
  assert.equal(handle.released, false);
  assert.equal(await freeForOthers(path), false, 'the asynchronous hold is untouched');
  handle.release();
  const sync = lockSync(path, { timeout: 3000 });
  assert.equal(await freeForOthers(path), false);
  sync.release();
  assert.equal(await freeForOthers(path), true);
});

test('lockSync on a path this thread awaits in lock() throws ELOCKHELD; the waiting lock() still gets the lock later', async (t) => {
  const path = join(tempDir(t), 'a.json');
  const child = await holdLock(t, path);
  const waiting = lock(path, { timeout: 10_000 });
  assert.throws(() => lockSync(path, { timeout: 3000 }), (error) => error instanceof LockError && error.code === 'ELOCKHELD');
  assert.equal(tryLockSync(path), null);
  await releaseAndWait(child);
  const handle = await waiting;
  assert.equal(await freeForOthers(path), false);
  handle.release();
  assert.equal(await freeForOthers(path), true);
});
