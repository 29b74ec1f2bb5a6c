// JSONC that people also edit by hand: parse with comments and trailing commas, and write a new
// value back as the smallest set of edits to the old text, so that every comment and the
// formatting of everything that did not change stay byte for byte.
import {
  type FormattingOptions,
  type JSONPath,
  type ParseError,
  SyntaxKind,
  applyEdits,
  createScanner,
  findNodeAtLocation,
  modify,
  parse,
  parseTree,
  printParseErrorCode,
} from 'jsonc-parser';
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

/** A member to append to an object (with its key) or an element to append to an array (no key). */
type Entry = readonly [key: string | undefined, value: unknown];

const isLeaf = (value: unknown) => value === null || typeof value !== 'object';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The offset where the line holding `offset` starts. */
function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/**
 * Guesses the file's indentation (from the first line that starts with a value or a key, never
 * from a comment) and line ending, so that inserted parts look like the rest.
 */
function formattingOf(text: string): FormattingOptions {
  let indent = '  ';
  const scanner = createScanner(text, false);
  for (let kind = scanner.scan(); kind !== SyntaxKind.EOF; kind = scanner.scan()) {
    if ([SyntaxKind.Trivia, SyntaxKind.LineBreakTrivia, SyntaxKind.LineCommentTrivia, SyntaxKind.BlockCommentTrivia].includes(kind)) continue;
    const offset = scanner.getTokenOffset();
    const lead = text.slice(lineStartOf(text, offset), offset);
    if (/^[ \t]+$/.test(lead)) {
      indent = lead;
      break;
    }
  }
  return { insertSpaces: !indent.startsWith('\t'), tabSize: indent.startsWith('\t') ? 1 : indent.length, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/**
 * Appends `entries` (values, with their keys when the container is an object) to the object or
 * array at `path`, in its layout, moving nothing else: after the last member or element, each on
 * a line of its own after that one's line (its comments stay with it) when each sits on its own
 * line, else right after it; in an empty container, on lines before the closing bracket's when
 * that has its own line, else inside the brackets. Undefined for the rare layouts this does not know.
 */
function appendAt(text: string, path: JSONPath, entries: ReadonlyArray<Entry>, formatting: FormattingOptions): string | undefined {
  const root = parseTree(text, [], { allowTrailingComma: true })!;
  const container = path.length === 0 ? root : findNodeAtLocation(root, path);
  if (!container || (container.type !== 'object' && container.type !== 'array')) return undefined;
  const close = container.offset + container.length - 1; // the closing bracket
  const unit = formatting.insertSpaces ? ' '.repeat(formatting.tabSize ?? 2) : '\t';
  const entry = ([key, value]: Entry, indent: string | undefined) => {
    const json = JSON.stringify(value, null, indent === undefined ? undefined : unit);
    return `${key === undefined ? '' : `${JSON.stringify(key)}: `}${indent === undefined ? json : json.replaceAll('\n', `${formatting.eol}${indent}`)}`;
  };
  /** The entries, each on its own line at `indent`, or (undefined) one after another on one line. */
  const all = (indent: string | undefined) =>
    entries.map((item) => entry(item, indent)).join(indent === undefined ? ', ' : `,${formatting.eol}${indent}`);
  const insert = (at: number, part: string) => `${text.slice(0, at)}${part}${text.slice(at)}`;

  const last = container.children?.at(-1);
  if (!last) {
    const closeLine = lineStartOf(text, close);
    const closeIndent = text.slice(closeLine, close);
    if (closeLine <= container.offset || !/^[ \t]*$/.test(closeIndent)) return insert(close, all(undefined));
    return insert(closeLine, `${closeIndent}${unit}${all(closeIndent + unit)}${formatting.eol}`);
  }
  const lastEnd = last.offset + last.length;
  // A comma already after the last one (trailing commas are allowed), perhaps past comments.
  const hasComma = /^(\s|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*,/.test(text.slice(lastEnd, close));
  const lastLine = lineStartOf(text, last.offset);
  const indent = text.slice(lastLine, last.offset);
  const lineEnd = text.indexOf('\n', lastEnd);
  if (lastLine > container.offset && /^[ \t]*$/.test(indent) && lineEnd !== -1 && lineEnd < close) {
    const at = text[lineEnd - 1] === '\r' ? lineEnd - 1 : lineEnd;
    const appended = insert(at, `${formatting.eol}${indent}${all(indent)}`);
    return hasComma ? appended : `${appended.slice(0, lastEnd)},${appended.slice(lastEnd)}`;
  }
  if (hasComma) return undefined; // `[1, 2, ]` on one line
  return insert(lastEnd, `, ${all(undefined)}`);
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
  const lineStart = lineStartOf(text, start);
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
  // New members or elements go after the last one (appendAt), where jsonc-parser's own
  // insertion would re-indent the lines around it and carry the last one's comment along.
  const append = (path: JSONPath, entries: Entry[]) => {
    if (entries.length === 0) return;
    const appended = appendAt(result, path, entries, formattingOptions);
    if (appended !== undefined) result = appended;
    else for (const [key, value] of entries) set(key === undefined ? [...path, -1] : [...path, key], value, key === undefined);
  };
  // Changed numbers, strings, booleans and nulls are replaced together at the end, from one parse:
  // every structural edit above leaves their paths as they were. (Each edit parses the whole
  // text, so edit by edit a large file with many small changes would be parsed many times.)
  const leaves: Array<{ path: JSONPath; value: unknown }> = [];
  const walk = (path: JSONPath, before: unknown, after: unknown): void => {
    if (isDeepStrictEqual(before, after)) return;
    if (isPlainObject(before) && isPlainObject(after)) {
      for (const key of Object.keys(before)) if (!(key in after) || after[key] === undefined) set([...path, key], undefined);
      const added: Entry[] = [];
      for (const [key, value] of Object.entries(after)) {
        if (value === undefined) continue;
        if (key in before) walk([...path, key], before[key], value);
        else added.push([key, value]);
      }
      append(path, added);
    } else if (Array.isArray(before) && Array.isArray(after)) {
      const common = Math.min(before.length, after.length);
      for (let index = 0; index < common; index++) walk([...path, index], before[index], after[index]);
      append(
        path,
        after.slice(common).map((value) => [undefined, value]),
      );
      for (let index = before.length - 1; index >= after.length; index--) set([...path, index], undefined);
    } else if (isLeaf(before) && isLeaf(after)) {
      leaves.push({ path, value: after });
    } else {
      set(path, after);
    }
  };
  walk([], old, next);
  return replaceLeaves(result, leaves);
}

/** Replaces the values at `leaves` (each a number, string, boolean or null) in one pass. */
function replaceLeaves(text: string, leaves: ReadonlyArray<{ path: JSONPath; value: unknown }>): string {
  if (leaves.length === 0) return text;
  const root = parseTree(text, [], { allowTrailingComma: true })!;
  const edits = leaves.map(({ path, value }) => {
    const node = path.length === 0 ? root : findNodeAtLocation(root, path)!;
    return { offset: node.offset, length: node.length, content: JSON.stringify(value) };
  });
  return applyEdits(text, edits);
}
