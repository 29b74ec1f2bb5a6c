// JSONC that people also edit by hand: parse with comments and trailing commas, and write a new
// value back as the smallest set of edits to the old text, so that every comment and the
// formatting of everything that did not change stay byte for byte.
import { type FormattingOptions, type JSONPath, type ParseError, applyEdits, findNodeAtLocation, modify, parse, parseTree, printParseErrorCode } from 'jsonc-parser';
import { isDeepStrictEqual } from 'node:util';

/** JsoncParseError: the file is not valid JSONC. `line` and `column` are 1-based. */
export class JsoncParseError extends Error {
  override readonly name = 'JsoncParseError';
  readonly code = 'EJSONCPARSE';
  constructor(
    readonly path: string,
    readonly line: number,
    readonly column: number,
    problem: string,
  ) {
    super(`lockedfile: ${path}:${line}:${column}: not valid JSONC (${problem}). Fix the file by hand; it was left as it is.`);
  }
}

/** parseJsonc parses JSONC text, throwing a JsoncParseError that points at the first problem. */
export function parseJsonc(text: string, path: string): unknown {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first) {
    const before = text.slice(0, first.offset).split(/\r\n|\r|\n/);
    throw new JsoncParseError(path, before.length, before.at(-1)!.length + 1, printParseErrorCode(first.error));
  }
  return value;
}

/** checkJsonValue throws a TypeError naming the place of anything JSON cannot hold. */
export function checkJsonValue(value: unknown, path: string, where = '$', seen = new Set<object>()): void {
  const type = typeof value;
  if (value === null || type === 'string' || type === 'boolean') return;
  if (type === 'number') {
    if (Number.isFinite(value)) return;
  } else if (type === 'object') {
    const object = value as object;
    if (seen.has(object)) throw new TypeError(`lockedfile: ${path}: the new value has a cycle at ${where}; JSON cannot hold it. The file is unchanged.`);
    seen.add(object);
    if (Array.isArray(object)) object.forEach((item, index) => checkJsonValue(item, path, `${where}[${index}]`, seen));
    else for (const [key, item] of Object.entries(object)) if (item !== undefined) checkJsonValue(item, path, `${where}.${key}`, seen);
    seen.delete(object);
    return;
  }
  throw new TypeError(`lockedfile: ${path}: the new value holds ${type === 'number' ? String(value) : `a ${type}`} at ${where}; JSON cannot hold it. The file is unchanged.`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Guesses the file's indentation and line ending, so that inserted parts look like the rest. */
function formattingOf(text: string): FormattingOptions {
  const indent = /^([ \t]+)\S/m.exec(text)?.[1] ?? '  ';
  return { insertSpaces: !indent.startsWith('\t'), tabSize: indent.startsWith('\t') ? 1 : indent.length, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/**
 * Removes one member or element with its own comma and nothing else: the comments around it
 * stay. (jsonc-parser's own removal can take a neighbour's comment along, or leave a stray comma
 * before a trailing one.)
 */
function removeAt(text: string, path: JSONPath): string {
  const node = findNodeAtLocation(parseTree(text, [], { allowTrailingComma: true })!, path);
  if (!node) return text;
  const target = node.parent?.type === 'property' ? node.parent : node;
  let start = target.offset;
  let end = target.offset + target.length;
  const after = /^[ \t]*,/.exec(text.slice(end));
  if (after) end += after[0].length;
  else {
    // The last member, with no comma after it: take the comma before it instead.
    const before = /,[ \t\r\n]*$/.exec(text.slice(0, start));
    if (before && !/\/\/|\*\//.test(before[0])) start -= before[0].length;
  }
  // Leave no blank line behind when the member had its line to itself.
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  const rest = /^[ \t]*(\r?\n)/.exec(text.slice(end));
  if (/^[ \t]*$/.test(text.slice(lineStart, start)) && rest) {
    start = lineStart;
    end += rest[0].length;
  }
  return text.slice(0, start) + text.slice(end);
}

/**
 * editJsonc returns `text` changed to hold `next` instead of `old`, by edits: changed members are
 * replaced, removed ones deleted, new ones inserted, array appends inserted at the end.
 */
export function editJsonc(text: string, old: unknown, next: unknown): string {
  const formattingOptions = formattingOf(text);
  let result = text;
  const set = (path: JSONPath, value: unknown, isArrayInsertion = false) => {
    result = value === undefined ? removeAt(result, path) : applyEdits(result, modify(result, path, value, { formattingOptions, isArrayInsertion }));
  };
  const walk = (path: JSONPath, before: unknown, after: unknown): void => {
    if (isDeepStrictEqual(before, after)) return;
    if (isPlainObject(before) && isPlainObject(after)) {
      for (const key of Object.keys(before)) if (!(key in after) || after[key] === undefined) set([...path, key], undefined);
      for (const [key, value] of Object.entries(after)) {
        if (value === undefined) continue;
        if (key in before) walk([...path, key], before[key], value);
        else set([...path, key], value);
      }
    } else if (Array.isArray(before) && Array.isArray(after)) {
      const common = Math.min(before.length, after.length);
      for (let index = 0; index < common; index++) walk([...path, index], before[index], after[index]);
      for (let index = common; index < after.length; index++) set([...path, index], after[index], true);
      for (let index = before.length - 1; index >= after.length; index--) set([...path, index], undefined);
    } else {
      set(path, after);
    }
  };
  walk([], old, next);
  return result;
}
