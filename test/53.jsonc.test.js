import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { JsoncParseError, LockError, readJsonc, tryLock, updateJsonc } from 'lockedfile';
import { moduleFile, run } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

const human = `// What the personas know about the user.
{
  "name": "Ada", // set by hand
  /* counts every save */
  "saves": 0,
  "concepts": [
    // learned so far
    "coffee",
  ],
}
`;

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: 8 processes x 100 updateJsonc increments and appends end with exactly 800, every comment in place`, async (t) => {
    const file = join(tempDir(t), 'human.jsonc');
    writeFileSync(file, human);
    const code = `
      import { updateJsonc } from ${JSON.stringify(entry)};
      for (let i = 0; i < 100; i++) {
        await updateJsonc(${JSON.stringify(file)}, (draft) => { draft.saves += 1; draft.concepts.push(process.pid + '-' + i); }, { backend: '${backend}', fsync: false });
      }`;
    const results = await Promise.all(Array.from({ length: 8 }, () => run(process.execPath, [moduleFile(code)])));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const value = await readJsonc(file);
    assert.equal(value.saves, 800);
    assert.equal(value.concepts.length, 801);
    const text = readFileSync(file, 'utf8');
    for (const comment of ['// What the personas know about the user.', '// set by hand', '/* counts every save */', '// learned so far']) assert.ok(text.includes(comment), comment);
  });
}

test('a changed value is edited in place: everything else stays byte for byte', async (t) => {
  const file = join(tempDir(t), 'human.jsonc');
  writeFileSync(file, human);
  const value = await updateJsonc(file, (draft) => {
    draft.saves = 7;
  });
  assert.equal(value.saves, 7);
  assert.equal(readFileSync(file, 'utf8'), human.replace('"saves": 0', '"saves": 7'));
});

test('an append to an array is an insertion; removed members go, comments elsewhere stay', async (t) => {
  const file = join(tempDir(t), 'human.jsonc');
  writeFileSync(file, human);
  await updateJsonc(file, (draft) => {
    draft.concepts.push('tea');
    delete draft.name;
    return draft;
  });
  const text = readFileSync(file, 'utf8');
  assert.deepEqual(await readJsonc(file), { saves: 0, concepts: ['coffee', 'tea'] });
  assert.ok(text.startsWith('// What the personas know about the user.\n{\n'));
  assert.ok(text.includes('/* counts every save */\n  "saves": 0,'));
  assert.ok(text.includes('// learned so far\n    "coffee",'));
});

test('a file that is not valid JSONC rejects with EJSONCPARSE, line and column; the file is untouched', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'bad.jsonc');
  const bad = '{\n  "a": 1,\n  "b": oops\n}\n';
  writeFileSync(file, bad);
  let called = false;
  await assert.rejects(updateJsonc(file, () => ((called = true), {})), (error) => {
    assert.equal(error.code, 'EJSONCPARSE');
    assert.ok(error instanceof JsoncParseError && error instanceof LockError, 'one error family');
    assert.equal(error.path, file);
    assert.equal(error.line, 3);
    assert.equal(error.column, 8);
    assert.ok(error.message.includes(`${file}:3:8`));
    return true;
  });
  assert.equal(called, false);
  assert.equal(readFileSync(file, 'utf8'), bad);
  await assert.rejects(readJsonc(file), { code: 'EJSONCPARSE' });
  const handle = await tryLock(file);
  assert.ok(handle, 'the lock was released');
  handle.release();
});

test('a value JSON cannot hold is a TypeError and nothing is written', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.jsonc');
  writeFileSync(file, human);
  const before = statSync(file);
  await assert.rejects(updateJsonc(file, (draft) => void (draft.big = 10n)), /a bigint at \$\.big/);
  await assert.rejects(updateJsonc(file, (draft) => void (draft.self = draft)), /cycle at \$\.self/);
  await assert.rejects(updateJsonc(file, (draft) => void (draft.concepts.push(() => 1))), /a function at \$\.concepts\[1\]/);
  await assert.rejects(updateJsonc(file, (draft) => void (draft.saves = NaN)), /NaN at \$\.saves/);
  assert.equal(readFileSync(file, 'utf8'), human);
  assert.equal(statSync(file).ino, before.ino);
  assert.deepEqual(readdirSync(dir).sort(), ['a.jsonc', 'a.jsonc.lock']);
});

test('an updater that throws rejects with that error; nothing is written, the lock is released', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.jsonc');
  writeFileSync(file, human);
  const boom = new Error('boom');
  await assert.rejects(
    updateJsonc(file, (draft) => {
      draft.saves = 99;
      throw boom;
    }),
    (error) => error === boom,
  );
  assert.equal(readFileSync(file, 'utf8'), human);
  assert.deepEqual(readdirSync(dir).sort(), ['a.jsonc', 'a.jsonc.lock']);
  const handle = await tryLock(file);
  assert.ok(handle, 'the lock was released');
  handle.release();
});

test('a missing file is ENOENT unless opts.default is given; then it is created as 2-space JSON', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'new.jsonc');
  await assert.rejects(updateJsonc(file, () => {}), (error) => error.code === 'ENOENT' && error.message.includes(file) && /opts\.default/.test(error.message));
  await assert.rejects(readJsonc(file), { code: 'ENOENT' });
  assert.deepEqual(await readJsonc(file, { default: { a: 1 } }), { a: 1 });
  const value = await updateJsonc(file, (draft) => void draft.concepts.push('x'), { default: { concepts: [] } });
  assert.deepEqual(value, { concepts: ['x'] });
  assert.equal(readFileSync(file, 'utf8'), '{\n  "concepts": [\n    "x"\n  ]\n}\n');
  const orphan = join(dir, 'missing', 'a.jsonc');
  await assert.rejects(updateJsonc(orphan, () => {}, { default: {} }), (error) => error.code === 'ENOENT' && error.message.includes(orphan));
});

test('an unchanged value writes nothing: same inode and mtime', async (t) => {
  const file = join(tempDir(t), 'a.jsonc');
  writeFileSync(file, human);
  const before = statSync(file);
  await updateJsonc(file, (draft) => void (draft.saves = 0));
  const after = statSync(file);
  assert.equal(after.ino, before.ino);
  assert.equal(after.mtimeMs, before.mtimeMs);
});

// Documents with a comment before every member; any change keeps the comments of the members
// that stay, and the text parses to exactly the new value.
const leaf = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 4 }));
const documents = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), leaf, { noNullPrototype: true });

function commented(value) {
  const members = Object.entries(value).map(([key, item]) => `  // about ${key}\n  ${JSON.stringify(key)}: ${JSON.stringify(item)}, /* after ${key} */`);
  return `/* head */\n{\n${members.join('\n')}\n}\n// tail\n`;
}

test('property: the written text parses to the new value and keeps the comments of every member that stays', async (t) => {
  const dir = tempDir(t);
  let round = 0;
  await fc.assert(
    fc.asyncProperty(documents, documents, async (old, next) => {
      const file = join(dir, `doc${round++}.jsonc`);
      writeFileSync(file, commented(old));
      await updateJsonc(file, () => next, { fsync: false });
      const text = readFileSync(file, 'utf8');
      assert.deepEqual(await readJsonc(file), next);
      assert.ok(text.startsWith('/* head */') && text.endsWith('// tail\n'));
      for (const key of Object.keys(old)) {
        if (key in next) assert.ok(text.includes(`// about ${key}`) && text.includes(`/* after ${key} */`), `${key}: ${text}`);
      }
    }),
    { numRuns: 60 },
  );
});

test('an append keeps the last line\'s comment with it and the layout of every other line', async (t) => {
  const dir = tempDir(t);
  const cases = [
    // A comment after the last element stays on its line; the new one gets a line of its own.
    ['{"list": [\n    1 // one\n  ]}', (d) => void d.list.push(2), '{"list": [\n    1, // one\n    2\n  ]}'],
    // The indentation comes from the JSON, never from a comment's continuation line.
    ['/* a\n   b */\n{\n  "n": 0,\n  "list": [\n    0\n  ],\n  "tail": 1\n}\n', (d) => void d.list.push({ x: 1 }), '/* a\n   b */\n{\n  "n": 0,\n  "list": [\n    0,\n    {\n      "x": 1\n    }\n  ],\n  "tail": 1\n}\n'],
    // Into an empty array that holds only a comment: before the closing bracket's line.
    ['{"list": [\n    // nothing yet\n  ]}', (d) => void d.list.push(2), '{"list": [\n    // nothing yet\n    2\n  ]}'],
    // A new member after a last member with a trailing comment, with CRLF line ends.
    ['{\r\n  "a": 1 // about a\r\n}\r\n', (d) => void (d.b = 2), '{\r\n  "a": 1, // about a\r\n  "b": 2\r\n}\r\n'],
    // One-line arrays stay on one line.
    ['{"list": [1, /* c */ 2 /* after */, 3]}', (d) => void d.list.push(4), '{"list": [1, /* c */ 2 /* after */, 3, 4]}'],
    // Several at once, each in the place it would take if appended one after another.
    ['{"list": [\n    // nothing yet\n  ]}', (d) => void d.list.push(2, 3), '{"list": [\n    // nothing yet\n    2,\n    3\n  ]}'],
    ['{"list": [1]}', (d) => void d.list.push(2, 3), '{"list": [1, 2, 3]}'],
    // New members, a nested value and a changed one in a single update.
    ['{\r\n  "a": 1 // about a\r\n}\r\n', (d) => void Object.assign(d, { a: 5, b: 2, c: [3] }), '{\r\n  "a": 5, // about a\r\n  "b": 2,\r\n  "c": [\r\n    3\r\n  ]\r\n}\r\n'],
  ];
  for (const [index, [before, change, after]] of cases.entries()) {
    const file = join(dir, `case${index}.jsonc`);
    writeFileSync(file, before);
    await updateJsonc(file, change, { fsync: false });
    assert.equal(readFileSync(file, 'utf8'), after, `case ${index}`);
  }
});

// Each update compares against the file as read; a process's own last write is not parsed again,
// so what it keeps of that write must be the file's, not a value the caller still holds.
test('the next update reads the file as it is: after another writer, and whatever the caller did to values it got', async (t) => {
  const file = join(tempDir(t), 'a.jsonc');
  writeFileSync(file, '{\n  // the count\n  "n": 1\n}\n');
  let kept;
  const resolved = await updateJsonc(file, (draft) => {
    draft.n = 2;
    kept = draft;
  });
  kept.n = 99;
  resolved.extra = true;
  await updateJsonc(file, (draft) => {
    assert.deepEqual(draft, { n: 2 });
    draft.n = 99; // what the caller made of its copy, now made for real
    draft.m = 3;
  });
  assert.equal(readFileSync(file, 'utf8'), '{\n  // the count\n  "n": 99,\n  "m": 3\n}\n');
  // Another writer, same size and the same times: the text is what counts.
  const { atime, mtime } = statSync(file);
  writeFileSync(file, readFileSync(file, 'utf8').replace('"n": 99', '"n": 77'));
  utimesSync(file, atime, mtime);
  assert.deepEqual(await updateJsonc(file, (draft) => void (draft.m += 1)), { n: 77, m: 4 });
  assert.equal(readFileSync(file, 'utf8'), '{\n  // the count\n  "n": 77,\n  "m": 4\n}\n');
});
