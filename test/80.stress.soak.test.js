// Soak: 16 processes update one hand-commented JSONC file as fast as they can, for each backend.
// Every update must land exactly once, and the file must keep everything nobody changed.
// Quick by default (16 x 20 updates, no fsync); STRESS=1 runs 16 x 500 with fsync.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findNodeAtLocation, parseTree } from 'jsonc-parser';
import { readJsonc } from 'lockedfile';
import { moduleFile } from './helpers/children.js';
import { STRESS, arena, commentsOf } from './helpers/stress.js';
import { entry } from './helpers/package.js';

const PROCESSES = 16;
const CALLS = STRESS ? 500 : 20;
const FSYNC = STRESS;
const TOTAL = PROCESSES * CALLS;

const start = `// Soak: many processes update this file at once.
// Hand-written comments must survive every update.
{
  /* The name is never touched. */
  "name": "soak", // a trailing line comment
  "count": 0, /* after the counter */
  /*
    A block comment over
    several lines.
  */
  "entries": [
    // appended entries go after this comment
    "start"
  ],
  "tail": { "kept": true /* inside a nested object */ }, // a trailing comma next
}
// end of file
`;

/** The text of `text` around its "entries" array, and the array's own text. */
function aroundEntries(text) {
  const node = findNodeAtLocation(parseTree(text, [], { allowTrailingComma: true }), ['entries']);
  return { before: text.slice(0, node.offset), array: text.slice(node.offset, node.offset + node.length), after: text.slice(node.offset + node.length) };
}

// An updater: says "ready" once loaded, waits for "go" on stdin (so that all of them start
// together), then makes CALLS updates, each adding one to the count and appending "pid:i".
// Says "done" with the count every update resolved with.
function updater(spawn, file, backend) {
  const code = `
    import { createInterface } from 'node:readline';
    import { updateJsonc } from ${JSON.stringify(entry)};
    const input = createInterface({ input: process.stdin });
    const go = new Promise((resolve) => input.once('line', resolve));
    console.log(JSON.stringify({ event: 'ready' }));
    await go;
    input.close();
    const seen = [];
    for (let i = 0; i < ${CALLS}; i++) {
      const value = await updateJsonc(${JSON.stringify(file)}, (draft) => {
        draft.count += 1;
        draft.entries.push(process.pid + ':' + i);
      }, { backend: '${backend}', fsync: ${FSYNC} });
      seen.push(value.count);
    }
    console.log(JSON.stringify({ event: 'done', seen }));`;
  return spawn(process.execPath, [moduleFile(code)]);
}

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: ${PROCESSES} processes x ${CALLS} updateJsonc calls on one commented file end with exactly ${TOTAL}, every entry once, every comment in place`, { timeout: STRESS ? 1_800_000 : 120_000 }, async (t) => {
    const { dir, spawn } = arena(t);
    const file = join(dir, 'soak.jsonc');
    writeFileSync(file, start);

    const children = Array.from({ length: PROCESSES }, () => updater(spawn, file, backend));
    await Promise.all(children.map((child) => child.next('ready')));
    for (const child of children) child.send('go');
    const reports = [];
    for (const child of children) {
      // 'closed', not next('done'): 'exit' can come before the last line has been read.
      await child.closed;
      const { exitCode: code, signalCode: signal } = child.proc;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, `updater ${child.pid} failed: ${child.stderr}`);
      const report = child.lines.find((line) => line.event === 'done');
      assert.ok(report, `updater ${child.pid} did not say "done"`);
      reports.push({ pid: child.pid, seen: report.seen });
    }

    // Each update resolved with its own count: two that overlapped would have seen the same one.
    for (const { pid, seen } of reports) {
      assert.equal(seen.length, CALLS);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `updater ${pid} saw the count go from ${seen[i - 1]} to ${seen[i]}`);
    }
    const resolved = reports.flatMap(({ seen }) => seen).sort((a, b) => a - b);
    assert.deepEqual(resolved, Array.from({ length: TOTAL }, (_, i) => i + 1), 'the updates did not resolve with 1..N, once each');

    const value = await readJsonc(file);
    assert.equal(value.count, TOTAL);
    assert.equal(value.entries.length, TOTAL + 1);
    assert.equal(value.entries[0], 'start');
    // Every process's entries are all there, once, in the order it made them.
    const byPid = new Map(children.map((child) => [String(child.pid), []]));
    for (const item of value.entries.slice(1)) {
      const [pid, i] = item.split(':');
      assert.ok(byPid.has(pid), `an entry from no updater: ${item}`);
      byPid.get(pid).push(Number(i));
    }
    for (const [pid, calls] of byPid) assert.deepEqual(calls, Array.from({ length: CALLS }, (_, i) => i), `updater ${pid}'s entries`);
    assert.deepEqual(value.tail, { kept: true });
    assert.equal(value.name, 'soak');

    // Every comment of the starting file, byte for byte and in order, and no other.
    const text = readFileSync(file, 'utf8');
    assert.deepEqual(commentsOf(text), commentsOf(start));
    // Outside the count and the appended entries, the text is the starting text byte for byte.
    const was = aroundEntries(start);
    const now = aroundEntries(text.replace(`"count": ${TOTAL},`, '"count": 0,'));
    assert.equal(now.before, was.before, 'the text before the entries changed (beyond the count)');
    assert.equal(now.after, was.after, 'the text after the entries changed');
    assert.ok(now.array.startsWith(was.array.slice(0, was.array.lastIndexOf('"start"') + '"start"'.length)), `the head of the entries changed: ${now.array.slice(0, 120)}`);
    assert.ok(now.array.endsWith('\n  ]'), 'the end of the entries changed');

    // Nothing left behind: no temp file, and no pid file once every holder has released.
    const left = readdirSync(dir).sort();
    assert.deepEqual(left, backend === 'flock' ? ['soak.jsonc', 'soak.jsonc.lock'] : ['soak.jsonc']);
  });
}
