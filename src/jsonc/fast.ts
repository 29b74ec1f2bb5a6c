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
  let lastComma = -1; // a comma after a value, with only whitespace and comments after it so far
  let afterValue = false; // the last token ended a value: a comma after it may be a trailing one
  let depth = 0;
  for (let at = blanks.length; at < text.length; at++) {
    const c = text.charCodeAt(at);
    if (c === 0x22) {
      at = stringEnd(text, at) - 1;
      lastComma = -1;
      afterValue = true;
    } else if (c === 0x2f && text.charCodeAt(at + 1) === 0x2f) {
      const end = lineCommentEnd(text, at);
      comments.push({ start: at, end });
      at = end - 1;
    } else if (c === 0x2f && text.charCodeAt(at + 1) === 0x2a) {
      const close = text.indexOf('*/', at + 2);
      if (close === -1) return undefined;
      comments.push({ start: at, end: close + 2 });
      at = close + 1;
    } else if (c === 0x2c) {
      // `[,]` or `[1,,]` is not JSONC: only a comma after a value may be a trailing one.
      lastComma = afterValue ? at : -1;
      afterValue = false;
    } else if (c === 0x7d || c === 0x5d) {
      if (lastComma !== -1) trailingCommas.push(lastComma);
      lastComma = -1;
      afterValue = true;
      depth--;
    } else if (c === 0x7b || c === 0x5b) {
      // Deeper than parse.ts reads: it says so (and no recursion here or later runs out of stack).
      if (++depth > MAX_DEPTH) return undefined;
      lastComma = -1;
      afterValue = false;
    } else if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) {
      lastComma = -1;
      afterValue = c !== 0x3a; // a colon is not the end of a value
    }
  }
  blanks.push(...comments);
  const structure = blankOut(text, blanks);
  const forParse = trailingCommas.length === 0 ? structure : blankOut(structure, trailingCommas.map((at) => ({ start: at, end: at + 1 })));
  if (/^\s*$/.test(forParse)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(forParse);
  } catch {
    return undefined;
  }
  const start = firstNonSpace(structure, 0);
  return { value, root: nodeAt(structure, start), comments };
}

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
  for (;;) {
    const c = text.charCodeAt(at);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) at++;
    else return at;
  }
}

/** The end of the string that starts at `at` (the text's end, should it have none). */
function stringEnd(text: string, at: number): number {
  for (at++; at < text.length; at++) {
    const c = text.charCodeAt(at);
    if (c === 0x5c) at++;
    else if (c === 0x22) return at + 1;
  }
  return text.length;
}

/** The end of the (valid) value that starts at `at`: brackets counted, strings skipped. */
function valueEnd(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === 0x22) return stringEnd(text, at);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (; at < text.length; at++) {
      const d = text.charCodeAt(at);
      if (d === 0x22) at = stringEnd(text, at) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if ((d === 0x7d || d === 0x5d) && --depth === 0) return at + 1;
    }
    return text.length;
  }
  while (at < text.length && !/[\s,\]}]/.test(text[at]!)) at++; // a number, true, false or null
  return at;
}

function nodeAt(structure: string, start: number): Node {
  const end = valueEnd(structure, start);
  const c = structure[start];
  if (c === '{' || c === '[') return new LazyContainer(structure, c === '{' ? 'object' : 'array', start, end) as ObjectNode | ArrayNode;
  const kind = c === '"' ? 'string' : c === 't' || c === 'f' ? 'boolean' : c === 'n' ? 'null' : 'number';
  return { kind, start, end };
}

/** An object or array whose entries are found when first asked for. */
class LazyContainer {
  #entries: Entry[] | undefined;

  constructor(
    readonly structure: string,
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
      entry.value = nodeAt(text, at);
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
