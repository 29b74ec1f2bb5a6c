// The fast way to read JSONC for an edit: one pass finds the comments and trailing commas and
// blanks them out, JSON.parse (native) makes the value, and the layout of a container (where its
// entries and commas are) is found only when the editor asks for it, so an update that changes
// one member of a large file scans the rest once, without making objects for it. Where
// JSON.parse refuses the text, parse.ts reads it again to say where and why.
import { type ArrayNode, type Entry, MAX_DEPTH, type Node, type ObjectNode, type Parsed, lineCommentEnd } from './parse.js';

interface Span {
  start: number;
  end: number;
}

/**
 * parseJsoncFast returns the value and a lazy layout of `text`, or undefined when it is not
 * valid JSONC (or holds no value): parse.ts then says why.
 */
export function parseJsoncFast(text: string): Parsed | undefined {
  const comments: Span[] = [];
  const trailingCommas: number[] = [];
  // Offsets where comments (and a byte-order mark) are: `structure` has spaces there.
  const blanks: Span[] = text.charCodeAt(0) === 0xfeff ? [{ start: 0, end: 1 }] : [];
  // Where each object and array starts and ends (starts in order): the layout is found from these.
  const containers: Containers = { starts: [], ends: [] };
  const open: number[] = []; // indexes into containers of those not closed yet
  // The regular expression finds what matters, natively: a string is skipped with indexOf, and a
  // comma is looked at only where a closing bracket or a comment follows it.
  const special = /["/[\]{}]|,(?=\s*[\]}/])/g;
  special.lastIndex = blanks.length;
  while (special.test(text)) {
    const at = special.lastIndex - 1; // every match is one character (a comma's lookahead takes none)
    const c = text.charCodeAt(at);
    if (c === 0x22) {
      special.lastIndex = stringEnd(text, at);
    } else if (c === 0x2f) {
      const end = commentEnd(text, at);
      if (end === -1) return undefined;
      if (end === at) continue; // a lone slash: JSON.parse refuses it below
      comments.push({ start: at, end });
      special.lastIndex = end;
    } else if (c === 0x2c) {
      if (isTrailingComma(text, at, comments)) trailingCommas.push(at);
    } else if (c === 0x7b || c === 0x5b) {
      // Deeper than parse.ts reads: it says so (and no recursion here or later runs out of stack).
      if (open.push(containers.starts.push(at) - 1) > MAX_DEPTH + 1) return undefined; // the root is depth 0
      containers.ends.push(-1);
    } else if (open.length > 0) containers.ends[open.pop()!] = at + 1;
  }
  blanks.push(...comments);
  const structure = blankOut(text, blanks);
  const forParse = trailingCommas.length === 0 ? structure : blankOut(structure, trailingCommas.map((at) => ({ start: at, end: at + 1 })));
  let value: unknown;
  try {
    value = JSON.parse(forParse);
  } catch {
    return undefined; // also for a text holding no value: parse.ts reads it
  }
  const root = nodeAt(structure, containers, firstNonSpace(structure, 0));
  return { value, root, comments };
}

/** Where the comment at `at` ends: `at` when there is none there, -1 when a block comment is not closed. */
function commentEnd(text: string, at: number): number {
  if (text.charCodeAt(at) !== 0x2f) return at;
  const next = text.charCodeAt(at + 1);
  if (next === 0x2f) return lineCommentEnd(text, at);
  if (next !== 0x2a) return at;
  const close = text.indexOf('*/', at + 2);
  return close === -1 ? -1 : close + 2;
}

/**
 * Whether the comma at `at` is a trailing one: after a value (`[,]` and `[1,,]` are not JSONC)
 * and before a closing bracket, with only whitespace and comments between.
 */
function isTrailingComma(text: string, at: number, comments: Span[]): boolean {
  let after = firstNonSpace(text, at + 1);
  for (let end = commentEnd(text, after); end > after; end = commentEnd(text, after)) after = firstNonSpace(text, end);
  const close = text.charCodeAt(after);
  if (close !== 0x5d && close !== 0x7d) return false;
  let before = at - 1;
  for (let index = comments.length - 1; ; ) {
    while (before >= 0 && isSpace(text.charCodeAt(before))) before--;
    if (index < 0 || comments[index]!.end !== before + 1) break;
    before = comments[index--]!.start - 1;
  }
  const c = text.charCodeAt(before);
  return before >= 0 && c !== 0x5b && c !== 0x7b && c !== 0x2c && c !== 0x3a;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

function blankOut(text: string, spans: Span[]): string {
  if (spans.length === 0) return text;
  const sorted = spans.length > 1 ? [...spans].sort((a, b) => a.start - b.start) : spans;
  const parts: string[] = [];
  let at = 0;
  for (const { start, end } of sorted) {
    parts.push(text.slice(at, start), ' '.repeat(end - start));
    at = end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

function firstNonSpace(text: string, at: number): number {
  while (isSpace(text.charCodeAt(at))) at++;
  return at;
}

/** The end of the string that starts at `at` (the text's end, should it have none). */
function stringEnd(text: string, at: number): number {
  for (let quote = text.indexOf('"', at + 1); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let escapes = 0; // an odd number of backslashes before it escape the quote
    while (text.charCodeAt(quote - 1 - escapes) === 0x5c) escapes++;
    if (escapes % 2 === 0) return quote + 1;
  }
  return text.length;
}

/** The end of the (valid) scalar that starts at `at`. */
function scalarEnd(text: string, at: number): number {
  if (text.charCodeAt(at) === 0x22) return stringEnd(text, at);
  while (at < text.length && !/[\s,\]}]/.test(text[at]!)) at++; // a number, true, false or null
  return at;
}

/** The objects and arrays of a text: `ends[i]` is the end of the one that starts at `starts[i]`. */
interface Containers {
  starts: number[];
  ends: number[];
}

/** The end of the container that starts at `start` (found by binary search: starts are in order). */
function endOf({ starts, ends }: Containers, start: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (starts[middle]! < start) low = middle + 1;
    else high = middle;
  }
  return ends[low]!;
}

function nodeAt(structure: string, containers: Containers, start: number): Node {
  const c = structure[start];
  if (c === '{' || c === '[') return new LazyContainer(structure, containers, c === '{' ? 'object' : 'array', start, endOf(containers, start)) as ObjectNode | ArrayNode;
  const kind = c === '"' ? 'string' : c === 't' || c === 'f' ? 'boolean' : c === 'n' ? 'null' : 'number';
  return { kind, start, end: scalarEnd(structure, start) };
}

/** An object or array whose entries are found when first asked for. */
class LazyContainer {
  #entries: Entry[] | undefined;

  constructor(
    readonly structure: string,
    readonly containers: Containers,
    readonly kind: 'object' | 'array',
    readonly start: number,
    readonly end: number,
  ) {}

  get entries(): Entry[] {
    this.#entries ??= this.#scan();
    return this.#entries;
  }

  #scan(): Entry[] {
    const text = this.structure;
    const entries: Entry[] = [];
    let at = firstNonSpace(text, this.start + 1);
    while (at < this.end - 1) {
      const entry: Entry = { start: at, value: undefined as unknown as Node, comma: -1 };
      if (this.kind === 'object') {
        const keyEnd = stringEnd(text, at);
        const raw = text.slice(at + 1, keyEnd - 1);
        entry.key = raw.includes('\\') ? (JSON.parse(text.slice(at, keyEnd)) as string) : raw;
        at = firstNonSpace(text, firstNonSpace(text, keyEnd) + 1); // past the colon
      }
      entry.value = nodeAt(text, this.containers, at);
      at = firstNonSpace(text, entry.value.end);
      if (text.charCodeAt(at) === 0x2c) {
        entry.comma = at;
        at = firstNonSpace(text, at + 1);
      }
      entries.push(entry);
    }
    return entries;
  }
}
