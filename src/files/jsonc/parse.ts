// One pass over JSONC text that yields both the value and where every part of it sits: the
// offsets of each value, key and comma, and of every comment, which the editor needs to change
// the text without touching anything else. Comments and trailing commas are allowed; otherwise
// the grammar is JSON's (RFC 8259), so numbers keep their exact text for the editor.

export type Node = ObjectNode | ArrayNode | ScalarNode;

interface Span {
  /** Offset of the first character. */
  start: number;
  /** Offset just past the last character. */
  end: number;
}

export interface ScalarNode extends Span {
  kind: 'string' | 'number' | 'boolean' | 'null';
}

/** A member of an object or an element of an array, with the comma that follows it, if any. */
export interface Entry {
  /** The member's key (objects only). */
  key?: string;
  /** Where the entry starts: its key, or its value in an array. */
  start: number;
  value: Node;
  /** Offset of the comma after it, or -1 (the last entry, without a trailing comma). */
  comma: number;
}

export interface ObjectNode extends Span {
  kind: 'object';
  entries: Entry[];
}

export interface ArrayNode extends Span {
  kind: 'array';
  entries: Entry[];
}

export interface Parsed {
  /** The value, with numbers as JavaScript reads them (1e400 is Infinity: its text is kept). */
  value: unknown;
  /** Undefined for a text with no value at all (empty, or only whitespace and comments). */
  root: Node | undefined;
  /** Every comment, in order. */
  comments: Span[];
}

/** A place where the text is not JSONC: the offset and what was expected there. */
export class JsoncSyntaxError extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** Where the `//` comment at `at` ends: before the line break (CRLF, LF or a lone CR), or at the text's end. */
export function lineCommentEnd(text: string, at: number): number {
  LINE_BREAK.lastIndex = at;
  return LINE_BREAK.test(text) ? LINE_BREAK.lastIndex - 1 : text.length;
}
const LINE_BREAK = /[\r\n]/g;

/** The line ending new lines get where nothing nearer says: CRLF where the text has any, else LF, else (old Mac files) CR. */
export function eolOf(text: string): string {
  if (text.includes('\r\n')) return '\r\n';
  return text.includes('\n') || !text.includes('\r') ? '\n' : '\r';
}

/** Deeper than this, a text is refused rather than read (no recursion may run out of stack). */
export const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** parseJsoncText parses `text`; it throws a JsoncSyntaxError at the first problem. */
export function parseJsoncText(text: string): Parsed {
  const comments: Span[] = [];
  let at = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a byte-order mark is not part of the value

  /** Skips whitespace and comments; returns the offset of the next token (or the end). */
  const skip = (): number => {
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) at++;
      else if (c === 0x2f && text.charCodeAt(at + 1) === 0x2f) {
        const start = at;
        at = lineCommentEnd(text, at);
        comments.push({ start, end: at });
      } else if (c === 0x2f && text.charCodeAt(at + 1) === 0x2a) {
        const close = text.indexOf('*/', at + 2);
        if (close === -1) throw new JsoncSyntaxError(at, 'UnexpectedEndOfComment');
        comments.push({ start: at, end: close + 2 });
        at = close + 2;
      } else return at;
    }
  };

  const expect = (char: string, problem: string) => {
    skip();
    if (text[at] !== char) throw new JsoncSyntaxError(at, problem);
    at++;
  };

  const string = (): string => {
    // Most strings have no escapes: their text is their value.
    for (let end = at + 1; ; end++) {
      const c = text.charCodeAt(end);
      if (c === 0x22) {
        const value = text.slice(at + 1, end);
        at = end + 1;
        return value;
      }
      if (c === 0x5c || c < 0x20 || Number.isNaN(c)) break;
    }
    STRING.lastIndex = at;
    const match = STRING.exec(text);
    if (!match) throw new JsoncSyntaxError(at, text.indexOf('"', at + 1) === -1 ? 'UnexpectedEndOfString' : 'InvalidString');
    at += match[0].length;
    return JSON.parse(match[0]) as string;
  };

  const value = (depth: number): [unknown, Node] => {
    if (depth > MAX_DEPTH) throw new JsoncSyntaxError(at, `nested more than ${MAX_DEPTH} levels deep, more than lockedfile reads`);
    const start = skip();
    const c = text[at];
    if (c === '{' || c === '[') {
      const isObject = c === '{';
      const close = isObject ? '}' : ']';
      at++;
      const entries: Entry[] = [];
      const result: unknown = isObject ? {} : [];
      for (;;) {
        const next = skip();
        if (text[next] === close) break;
        if (entries.length > 0 && entries.at(-1)!.comma === -1) throw new JsoncSyntaxError(next, 'CommaExpected');
        let key: string | undefined;
        if (isObject) {
          if (text[next] !== '"') throw new JsoncSyntaxError(next, 'PropertyNameExpected');
          key = string();
          expect(':', 'ColonExpected');
        }
        const [item, node] = value(depth + 1);
        if (!isObject) (result as unknown[]).push(item);
        else if (key === '__proto__') {
          // A member like any other, never the object's prototype.
          Object.defineProperty(result, key, { value: item, writable: true, enumerable: true, configurable: true });
        } else (result as Record<string, unknown>)[key!] = item;
        const entry: Entry = { start: next, value: node, comma: -1 };
        if (isObject) entry.key = key;
        entries.push(entry);
        if (text[skip()] === ',') entry.comma = at++;
      }
      at++;
      const node = { kind: isObject ? 'object' : 'array', start, end: at, entries } as ObjectNode | ArrayNode;
      return [result, node];
    }
    if (c === '"') {
      const item = string();
      return [item, { kind: 'string', start, end: at }];
    }
    const word = c === 't' ? 'true' : c === 'f' ? 'false' : c === 'n' ? 'null' : undefined;
    if (word !== undefined && text.startsWith(word, at)) {
      at += word.length;
      return [word === 'null' ? null : word === 'true', { kind: word === 'null' ? 'null' : 'boolean', start, end: at }];
    }
    NUMBER.lastIndex = at;
    const number = NUMBER.exec(text);
    if (number) {
      at += number[0].length;
      return [Number(number[0]), { kind: 'number', start, end: at }];
    }
    throw new JsoncSyntaxError(at, at >= text.length ? 'ValueExpected' : 'InvalidSymbol');
  };

  if (skip() >= text.length) return { value: undefined, root: undefined, comments };
  const [result, root] = value(0);
  if (skip() < text.length) throw new JsoncSyntaxError(at, 'EndOfFileExpected');
  return { value: result, root, comments };
}
