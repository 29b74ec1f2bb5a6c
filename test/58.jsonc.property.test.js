// Random updates of real-looking JSONC files (test/fixtures/jsonc: VS Code, tsc --init,
// devcontainer, wrangler, biome, deno, Zed, Sublime; each also with CRLF line endings): a leaf
// or a whole value replaced by any JSON value, members and elements deleted, elements inserted
// anywhere, members added, several at once. Checked against jsonc-parser, an independent reader:
// the file reads as the new value; every comment outside what was removed or replaced is still
// there, in order, after the same value; every line that holds nothing changed is still there,
// byte for byte, in order; line endings and the kind of indentation are the file's.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { SyntaxKind, createScanner, findNodeAtLocation, parse, parseTree } from 'jsonc-parser';
import { updateJsonc } from 'lockedfile';
import { keptElements } from '../dist/files/jsonc/edit.js';
import { tempDir } from './helpers/temp.js';

const fixtures = new URL('./fixtures/jsonc/', import.meta.url);
const corpus = readdirSync(fixtures)
  .sort()
  .flatMap((name) => {
    const text = readFileSync(new URL(name, fixtures), 'utf8');
    return [{ name, text }, { name: `${name} (CRLF)`, text: text.replaceAll('\n', '\r\n') }];
  });

const readJson = (text) => {
  const errors = [];
  const value = parse(text, errors, { allowTrailingComma: true });
  assert.deepEqual(errors, [], `jsonc-parser cannot read:\n${text}`);
  return value;
};
const normal = (value) => JSON.parse(JSON.stringify(value));

/** Every value, the root included: its path and whether it is an object, an array or a leaf. */
function nodesOf(value, path = []) {
  const found = [];
  const kind = Array.isArray(value) ? 'array' : value !== null && typeof value === 'object' ? 'object' : 'leaf';
  found.push({ path, kind });
  if (kind === 'array') value.forEach((item, index) => found.push(...nodesOf(item, [...path, index])));
  if (kind === 'object') for (const [key, item] of Object.entries(value)) found.push(...nodesOf(item, [...path, key]));
  return found;
}

const jsonValue = fc.jsonValue({ maxDepth: 2 }).filter((value) => !JSON.stringify(value).includes('"__proto__"'));
const newKey = fc.string({ minLength: 1, maxLength: 8 }).filter((key) => key !== '__proto__');

/** One change, on a path of the original value. */
function operation(nodes) {
  const containers = nodes.filter((node) => node.kind !== 'leaf');
  const below = nodes.filter((node) => node.path.length > 0);
  const choices = [
    fc.record({ kind: fc.constant('set'), node: fc.constantFrom(...below), value: jsonValue }),
    fc.record({ kind: fc.constant('delete'), node: fc.constantFrom(...below) }),
  ];
  if (containers.length > 0) {
    choices.push(fc.record({ kind: fc.constant('insert'), node: fc.constantFrom(...containers), key: newKey, at: fc.nat(), value: jsonValue }));
  }
  return fc.oneof(...choices);
}

/** The container an operation changes directly: the target's parent, or the container it adds to. */
const containerOf = (op) => (op.kind === 'insert' ? op.node.path : op.node.path.slice(0, -1));
const isPrefix = (a, b) => a.length <= b.length && a.every((part, index) => part === b[index]);

/** Keeps operations on containers that do not hold one another, so that each path stays valid. */
function independent(ops) {
  const kept = [];
  for (const op of ops) {
    const mine = containerOf(op);
    if (kept.some((other) => isPrefix(containerOf(other), mine) || isPrefix(mine, containerOf(other)))) continue;
    kept.push(op);
  }
  return kept;
}

function apply(value, op) {
  const parent = op.node.path.slice(0, -1).reduce((node, part) => node[part], value);
  const last = op.node.path.at(-1);
  if (op.kind === 'set') parent[last] = structuredClone(op.value);
  else if (op.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last, 1);
    else delete parent[last];
  } else {
    const container = op.node.path.reduce((node, part) => node[part], value);
    if (Array.isArray(container)) container.splice(op.at % (container.length + 1), 0, structuredClone(op.value));
    else if (!Object.hasOwn(container, op.key)) container[op.key] = structuredClone(op.value);
  }
}

const nodeAt = (root, path) => (path.length === 0 ? root : findNodeAtLocation(root, path));

/** The spans of the original text whose comments a change may take: what it replaced or removed, to its line's end. */
function spansTaken(text, ops) {
  const root = parseTree(text, [], { allowTrailingComma: true });
  return ops
    .filter((op) => op.kind !== 'insert')
    .map((op) => {
      const node = nodeAt(root, op.node.path);
      const whole = node.parent?.type === 'property' ? node.parent : node;
      const end = whole.offset + whole.length;
      const lineEnd = text.indexOf('\n', end);
      return [whole.offset, op.kind === 'delete' ? (lineEnd === -1 ? text.length : lineEnd) : end];
    });
}

/**
 * The offsets whose lines a change may rewrite besides what it takes: the lines of a replaced or
 * removed value and its neighbours' commas, and where an insertion goes (the container's first
 * and last lines and its last element's).
 */
function linesTouched(text, ops) {
  const root = parseTree(text, [], { allowTrailingComma: true });
  const offsets = [];
  for (const op of ops) {
    const node = nodeAt(root, op.kind === 'insert' ? op.node.path : op.node.path.slice(0, -1));
    const target = op.kind === 'insert' ? node : nodeAt(root, op.node.path);
    offsets.push([target.offset, target.offset + target.length]);
    const last = node.children?.at(-1);
    offsets.push([node.offset, node.offset + 1], [node.offset + node.length - 1, node.offset + node.length]);
    if (last) offsets.push([last.offset, last.offset + last.length]);
    if (op.kind === 'delete') {
      const siblings = node.children ?? [];
      const index = siblings.findIndex((child) => child === target || child === target.parent);
      const before = siblings[index - 1];
      if (before) offsets.push([before.offset, before.offset + before.length]);
    }
  }
  const lineOf = (offset) => text.lastIndexOf('\n', offset - 1) + 1;
  const lineEndOf = (offset) => (text.indexOf('\n', offset) === -1 ? text.length : text.indexOf('\n', offset));
  return offsets.map(([start, end]) => [lineOf(start), lineEndOf(end)]);
}

function commentsOf(text) {
  const comments = [];
  const scanner = createScanner(text, false);
  for (let kind = scanner.scan(); kind !== SyntaxKind.EOF; kind = scanner.scan()) {
    if (kind === SyntaxKind.LineCommentTrivia || kind === SyntaxKind.BlockCommentTrivia) {
      comments.push({ start: scanner.getTokenOffset(), text: text.slice(scanner.getTokenOffset(), scanner.getTokenOffset() + scanner.getTokenLength()) });
    }
  }
  return comments;
}

test('500 random updates of the JSONC corpus: each reads back as the new value, keeps every comment it did not take and every line it did not touch, and the file\'s line endings and indentation', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'settings.jsonc');
  const sample = fc.constantFrom(...corpus).chain((entry) => {
    const nodes = nodesOf(readJson(entry.text));
    return fc.record({ entry: fc.constant(entry), ops: fc.array(operation(nodes), { minLength: 1, maxLength: 4 }).map(independent) });
  });
  await fc.assert(
    fc.asyncProperty(sample, async ({ entry, ops }) => {
      const { text } = entry;
      writeFileSync(file, text);
      const expected = readJson(text);
      for (const op of ops) apply(expected, op);
      await updateJsonc(file, (draft) => {
        for (const op of ops) apply(draft, op);
      }, { fsync: false });
      const written = readFileSync(file, 'utf8');
      assert.ok(isDeepStrictEqual(normal(readJson(written)), normal(expected)), `${entry.name}: reads back as another value:\n${written}`);

      const taken = spansTaken(text, ops);
      const touched = linesTouched(text, ops);
      let from = 0;
      for (const comment of commentsOf(text)) {
        if (taken.some(([start, end]) => comment.start >= start && comment.start < end)) continue;
        const found = written.indexOf(comment.text, from);
        assert.ok(found !== -1, `${entry.name}: the comment ${JSON.stringify(comment.text)} is gone or out of order:\n${written}`);
        from = found + comment.text.length;
        // A comment after a value on its line stays after that value (commas aside).
        const lineStart = text.lastIndexOf('\n', comment.start - 1) + 1;
        const prefix = text.slice(lineStart, comment.start);
        if (/^\s*$/.test(prefix) || touched.some(([start, end]) => comment.start >= start && comment.start <= end)) continue;
        const writtenPrefix = written.slice(written.lastIndexOf('\n', found - 1) + 1, found);
        const bare = (line) => line.replace(/[\s,]/g, '');
        assert.equal(bare(writtenPrefix), bare(prefix), `${entry.name}: the comment ${JSON.stringify(comment.text)} moved to another value:\n${written}`);
      }

      // Every line that holds nothing taken or touched is still there, byte for byte, in order.
      let at = 0;
      let offset = 0;
      for (const line of text.split('\n')) {
        const start = offset;
        offset += line.length + 1;
        const spans = [...taken, ...touched];
        if (spans.some(([from, to]) => from <= start + line.length && to >= start)) continue;
        const found = written.indexOf(`${line}\n`, at);
        assert.ok(found !== -1 || written.endsWith(line), `${entry.name}: the untouched line ${JSON.stringify(line)} changed or moved:\n${written}`);
        if (found !== -1) at = found + line.length + 1;
      }

      const crlf = text.includes('\r\n');
      assert.equal(/(^|[^\r])\n/.test(written), !crlf && written.includes('\n'), `${entry.name}: line endings changed`);
      if (crlf) assert.ok(!/[^\r]\n/.test(written), `${entry.name}: a bare LF in a CRLF file`);
      const tabs = /^\t/m.test(text);
      assert.ok(tabs ? !/^ +["{[\]}0-9tfn-]/m.test(written) : !/^\t/m.test(written), `${entry.name}: indentation of another kind:\n${written}`);
    }),
    { numRuns: 500 },
  );
});

// The array diff: the elements it keeps are a longest common subsequence (checked against the
// textbook quadratic table), in order, each pair equal.
test('the elements an array edit keeps are a longest common subsequence of the old and new arrays', () => {
  const element = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom({ a: 1 }, { a: 2 }, [1], null));
  fc.assert(
    fc.property(fc.array(element, { maxLength: 40 }), fc.array(element, { maxLength: 40 }), (before, after) => {
      const pairs = keptElements(before, after, 0, before.length, after.length);
      const lengths = Array.from({ length: before.length + 1 }, () => new Array(after.length + 1).fill(0));
      for (let i = before.length - 1; i >= 0; i--) {
        for (let j = after.length - 1; j >= 0; j--) {
          lengths[i][j] = isDeepStrictEqual(before[i], after[j]) ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
        }
      }
      assert.equal(pairs.length, lengths[0][0]);
      pairs.forEach(([i, j], index) => {
        assert.ok(isDeepStrictEqual(before[i], after[j]));
        if (index > 0) assert.ok(i > pairs[index - 1][0] && j > pairs[index - 1][1]);
      });
    }),
    { numRuns: 500 },
  );
});
