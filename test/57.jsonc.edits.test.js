// updateJsonc on the layouts people and tools write, each change made as the smallest edit:
// the expected text is given whole, so a moved comment, a rewritten line or a lost byte fails.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readJsonc, updateJsonc } from 'lockedfile';
import { tempDir } from './helpers/temp.js';

/** [what, the file, the change, the file after it] */
const cases = [
  [
    'removing the first element of an array removes it with its own comment, and moves no other',
    '{\n  "langs": [\n    "js", // JavaScript\n    "ts", // TypeScript\n    "py" // Python\n  ]\n}\n',
    (d) => void d.langs.splice(0, 1),
    '{\n  "langs": [\n    "ts", // TypeScript\n    "py" // Python\n  ]\n}\n',
  ],
  [
    'the same with the first element on the bracket\'s line',
    '{\n  "langs": ["js", // JavaScript\n    "ts", // TypeScript\n    "py" // Python\n  ]\n}\n',
    (d) => void d.langs.splice(0, 1),
    '{\n  "langs": [\n    "ts", // TypeScript\n    "py" // Python\n  ]\n}\n',
  ],
  [
    'removing a middle element of a one-line array',
    '{"x": [1, 2, 3]}',
    (d) => void d.x.splice(1, 1),
    '{"x": [1, 3]}',
  ],
  [
    'removing the last element of a one-line array',
    '{"x": [1, 2]}',
    (d) => void d.x.pop(),
    '{"x": [1]}',
  ],
  [
    'a comma inside the comment after the last member is not a trailing comma',
    '{\n  "name": "x" // e.g., not this\n}\n',
    (d) => void (d.b = 2),
    '{\n  "name": "x", // e.g., not this\n  "b": 2\n}\n',
  ],
  [
    'commented-out members after the last one (devcontainer, tsc --init) stay where they are',
    '{\n  "name": "x",\n  // "features": {},\n  // "forwardPorts": [],\n}\n',
    (d) => void (d.b = 2),
    '{\n  "name": "x",\n  "b": 2,\n  // "features": {},\n  // "forwardPorts": [],\n}\n',
  ],
  [
    'a multi-line block comment after the last member: the new one goes after the comment',
    '{\n  "a": 1 /* one,\n  two */\n}\n',
    (d) => void (d.b = 2),
    '{\n  "a": 1, /* one,\n  two */\n  "b": 2\n}\n',
  ],
  [
    'deleting a member whose comma follows a comment leaves its neighbours and their comments',
    '{\n  "a": 1 /* about a */,\n  "b": 2 /* about b */,\n  "c": 3\n}\n',
    (d) => void delete d.b,
    '{\n  "a": 1 /* about a */,\n  "c": 3\n}\n',
  ],
  [
    'deleting the last member takes its own comment, and only the previous member\'s comma',
    '{\n  "a": 1,\n  // "x": true,\n  "b": 2 // about b\n}\n',
    (d) => void delete d.b,
    '{\n  "a": 1\n  // "x": true,\n}\n',
  ],
  [
    'appending to an array whose last line holds several elements and a trailing comma',
    '{\n  "args": [\n    "--timeout", "999",\n  ]\n}\n',
    (d) => void d.args.push('--inspect'),
    '{\n  "args": [\n    "--timeout", "999",\n    "--inspect",\n  ]\n}\n',
  ],
  [
    'an inserted element goes between its neighbours, on a line of its own',
    '[\n  "a", // first\n  "c" // last\n]\n',
    (d) => void d.splice(1, 0, 'b'),
    '[\n  "a", // first\n  "b",\n  "c" // last\n]\n',
  ],
  [
    '-0, 1e400 and 12345678901234567890 stay as written beside a change',
    '{ "a": -0, "big": 1e400, "id": 12345678901234567890, "b": 1 }',
    (d) => void (d.b = 2),
    '{ "a": -0, "big": 1e400, "id": 12345678901234567890, "b": 2 }',
  ],
  [
    'keys named constructor, toString and __proto__ are members like any other',
    '{ "constructor": 1, "toString": 2, "__proto__": { "isAdmin": true }, "user": "u" }',
    (d) => void Object.assign(d, { constructor: 5, toString: 6, user: 'v' }),
    '{ "constructor": 5, "toString": 6, "__proto__": { "isAdmin": true }, "user": "v" }',
  ],
  [
    'with duplicate keys the last one holds the value, as in JSON.parse, and is the one changed',
    '{ "a": 1, "a": 2, "b": 3 }',
    (d) => void (d.a = 5),
    '{ "a": 1, "a": 5, "b": 3 }',
  ],
  [
    'a byte-order mark stays',
    '\uFEFF{ "a": 1 }\n',
    (d) => void (d.a = 2),
    '\uFEFF{ "a": 2 }\n',
  ],
  [
    'a comment between a member and its comma',
    '{\n  "a": 1 // c\n  , "b": 2\n}\n',
    (d) => void (d.a = 5),
    '{\n  "a": 5 // c\n  , "b": 2\n}\n',
  ],
  [
    'CRLF and tabs: new lines use them too',
    '{\r\n\t"a": 1,\r\n\t"b": [\r\n\t\t1\r\n\t]\r\n}\r\n',
    (d) => void Object.assign(d, { c: { x: [1] } }, d.b.push(2)),
    '{\r\n\t"a": 1,\r\n\t"b": [\r\n\t\t1,\r\n\t\t2\r\n\t],\r\n\t"c": {\r\n\t\t"x": [\r\n\t\t\t1\r\n\t\t]\r\n\t}\r\n}\r\n',
  ],
  [
    'a member added to an object that holds only a comment goes after the comment',
    '{\n  "a": {\n    // nothing yet\n  }\n}\n',
    (d) => void (d.a.k = 1),
    '{\n  "a": {\n    // nothing yet\n    "k": 1\n  }\n}\n',
  ],
  [
    'no final newline stays so',
    '{\n  "a": 1\n}',
    (d) => void (d.a = [1, 2]),
    '{\n  "a": [\n    1,\n    2\n  ]\n}',
  ],
  [
    'a comma before a comment and a string that starts with a slash is not a trailing comma',
    '{\n  // routes of the site\n  "routes": {\n    "/": "index", // home\n    "/about": "about"\n  },\n  "port": 8080 // dev port\n}\n',
    (d) => void (d.port = 9090),
    '{\n  // routes of the site\n  "routes": {\n    "/": "index", // home\n    "/about": "about"\n  },\n  "port": 9090 // dev port\n}\n',
  ],
  [
    'a trailing comma before a closing bracket and a comment after it',
    '{"list": [1, 2,]/* ids */, "a": 1}',
    (d) => void (d.a = 2),
    '{"list": [1, 2,]/* ids */, "a": 2}',
  ],
  [
    'old Mac line endings (CR alone) end a // comment and are used for new lines',
    '{\r  // the count\r  "n": 1\r}\r',
    (d) => void Object.assign(d, { n: 2, m: 3 }),
    '{\r  // the count\r  "n": 2,\r  "m": 3\r}\r',
  ],
  [
    'mixed line endings: a new line takes the ending of the line it follows',
    '{\r\n  "a": 1,\n  "b": 2\n}\n',
    (d) => void (d.c = 3),
    '{\r\n  "a": 1,\n  "b": 2,\n  "c": 3\n}\n',
  ],
  [
    'in a one-line object, a value replaced by a container stays on the line',
    '{"pos": {"x": 1}, "tags": "a"}\n',
    (d) => void (d.tags = ['a', { b: [1, 2] }]),
    '{"pos": {"x": 1}, "tags": ["a", {"b": [1, 2]}]}\n',
  ],
  [
    'a container added to a one-line object is written in the line\'s style',
    '{ "a": 1 }\n',
    (d) => void (d.b = { c: [1, null], d: {} }),
    '{ "a": 1, "b": {"c": [1, null], "d": {}} }\n',
  ],
];

for (const [what, before, change, after] of cases) {
  test(`updateJsonc: ${what}`, async (t) => {
    const file = join(tempDir(t), 'a.jsonc');
    writeFileSync(file, before);
    await updateJsonc(file, change);
    assert.equal(readFileSync(file, 'utf8'), after);
  });
}

test('an empty or whitespace-only file takes opts.default; without it, the error says to pass one', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.jsonc');
  writeFileSync(file, '  \n');
  await assert.rejects(updateJsonc(file, () => {}), (error) => error.code === 'EJSONCPARSE' && /opts\.default/.test(error.message));
  assert.deepEqual(await updateJsonc(file, (d) => void (d.a = 1), { default: {} }), { a: 1 });
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { a: 1 });
  const commented = join(dir, 'b.jsonc');
  writeFileSync(commented, '// settings\n');
  await updateJsonc(commented, (d) => void (d.a = 1), { default: {} });
  assert.equal(readFileSync(commented, 'utf8'), '// settings\n{\n  "a": 1\n}\n');
});

test('readJsonc of a member named __proto__ gives an own member, never the prototype', async (t) => {
  const file = join(tempDir(t), 'a.jsonc');
  writeFileSync(file, '{ "__proto__": { "isAdmin": true }, "user": "u" }');
  const value = await readJsonc(file);
  assert.equal(value.isAdmin, undefined);
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ['__proto__', 'user']);
  assert.deepEqual(value.__proto__ === Object.prototype ? null : Object.getOwnPropertyDescriptor(value, '__proto__').value, { isAdmin: true });
});

test('a Map, a Set or a Date in the new value is a TypeError naming where, and nothing is written', async (t) => {
  const file = join(tempDir(t), 'a.jsonc');
  writeFileSync(file, '{ "a": 1 }');
  for (const [bad, name] of [[new Map([['k', 1]]), 'Map'], [new Set([1]), 'Set'], [new Date(0), 'Date']]) {
    await assert.rejects(updateJsonc(file, (d) => void (d.x = { y: bad })), (error) => error instanceof TypeError && error.message.includes(`a ${name} at $.x.y`));
    assert.equal(readFileSync(file, 'utf8'), '{ "a": 1 }');
  }
  // In place of an empty object it holds no more members than: still a change, still refused.
  writeFileSync(file, '{ "a": {} }');
  for (const [bad, name] of [[new Map(), 'Map'], [new Date(0), 'Date']]) {
    await assert.rejects(updateJsonc(file, (d) => void (d.a = bad)), (error) => error instanceof TypeError && error.message.includes(`a ${name} at $.a`));
    assert.equal(readFileSync(file, 'utf8'), '{ "a": {} }');
  }
});

test('a file that is not UTF-8 is refused with EILSEQ naming the byte, and left byte for byte', async (t) => {
  const file = join(tempDir(t), 'a.jsonc');
  const bytes = Buffer.concat([Buffer.from('{ "a": 1 /* caf'), Buffer.from([0xe9]), Buffer.from(' */ }')]);
  writeFileSync(file, bytes);
  await assert.rejects(updateJsonc(file, (d) => void (d.a = 2)), (error) => error.code === 'EILSEQ' && error.message.includes('byte 15') && error.message.includes(file));
  assert.deepEqual(readFileSync(file), bytes);
});

test('a comma with no value before it is not a trailing comma: [,] and {,} are refused at once, not read as empty', async (t) => {
  const file = join(tempDir(t), 'a.jsonc');
  for (const text of ['[,]', '{,}', '{ "a": [ /* c */ , ] }', '[1,,]', '[1,/**/,/**/2\n]', '{"a":1,/**/,/**/"b":2\n}']) {
    writeFileSync(file, text);
    await assert.rejects(readJsonc(file), (error) => error.code === 'EJSONCPARSE', text);
    await assert.rejects(updateJsonc(file, (d) => void d), (error) => error.code === 'EJSONCPARSE', text);
    assert.equal(readFileSync(file, 'utf8'), text);
  }
});

test('a file nested deeper than lockedfile reads is refused with a clear error, not a stack overflow', async (t) => {
  const file = join(tempDir(t), 'a.jsonc');
  for (const depth of [600, 20_000]) {
    writeFileSync(file, `${'['.repeat(depth)}${']'.repeat(depth)}`);
    await assert.rejects(readJsonc(file), (error) => error.code === 'EJSONCPARSE' && /nested more than 512 levels deep/.test(error.message));
  }
  // The deepest it reads (the root and 512 levels below it), it also edits.
  writeFileSync(file, `${'['.repeat(513)}${']'.repeat(513)}`);
  assert.ok(Array.isArray(await readJsonc(file)));
  await updateJsonc(file, (d) => void d.push(1));
  assert.equal(readFileSync(file, 'utf8'), `[${'['.repeat(512)}${']'.repeat(512)}, 1]`);
});

test('in a long array, one element changed and one removed far apart: only their lines differ', async (t) => {
  const file = join(tempDir(t), 'long.jsonc');
  const lines = Array.from({ length: 3000 }, (_, index) => `    {"id": ${index}, "level": 0.5}, // concept ${index}`);
  const text = (items) => `{\n  "concepts": [\n${items.join('\n')}\n  ]\n}\n`;
  writeFileSync(file, text(lines));
  await updateJsonc(file, (d) => {
    d.concepts.splice(10, 1);
    d.concepts[2000].level = 0.9;
  });
  const expected = lines.with(2001, lines[2001].replace('0.5', '0.9')).toSpliced(10, 1);
  assert.equal(readFileSync(file, 'utf8'), text(expected));
});
