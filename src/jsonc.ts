// JSONC that people also edit by hand: read with comments and trailing commas, and a new value
// written back as the smallest edits to the old text (jsonc/edit.ts), so that every comment and
// the formatting of everything that did not change stay byte for byte.
import { editJsoncText } from './jsonc/edit.js';
import { parseJsoncFast } from './jsonc/fast.js';
import { JsoncSyntaxError, type Parsed, eolOf, parseJsoncText } from './jsonc/parse.js';
import { checkJsonValue, sameJson } from './jsonc/value.js';

export { checkJsonValue, sameJson };
export type { Parsed };

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

/** parseJsonc parses JSONC text with its layout, throwing a JsoncParseError that points at the first problem. */
export function parseJsonc(text: string, path: string): Parsed {
  try {
    // The careful parser runs only where the fast one cannot: it says where and why.
    return parseJsoncFast(text) ?? parseJsoncText(text);
  } catch (error) {
    if (!(error instanceof JsoncSyntaxError)) throw error;
    const before = text.slice(0, error.offset).split(/\r\n|\r|\n/);
    throw new JsoncParseError(path, before.length, before.at(-1)!.length + 1, error.problem);
  }
}

/**
 * editJsonc returns `text` (parsed as `parsed`) changed to hold `next`, by edits. Should the
 * edits not read back as `next` (a layout the editor gets wrong), the whole value is written
 * anew instead, keeping the comments before and after it: the update is never refused for it.
 */
export function editJsonc(text: string, parsed: Parsed, next: unknown, path: string): string {
  if (parsed.root === undefined) {
    // No value yet (an empty file, or only comments): the value goes after what is there.
    checkJsonValue(next, path);
    const eol = eolOf(text);
    const bom = text.startsWith('\uFEFF') ? '\uFEFF' : ''; // trimEnd would take a lone one
    const kept = text.slice(bom.length).trimEnd();
    return `${bom}${kept}${kept ? eol : ''}${JSON.stringify(next, null, 2).replaceAll('\n', eol)}${eol}`;
  }
  const edited = editJsoncText(text, parsed, next, path);
  if (edited === text || readsAs(edited, next)) return edited; // no edit: nothing differs
  checkJsonValue(next, path);
  const eol = eolOf(text);
  const rewritten = `${text.slice(0, parsed.root.start)}${JSON.stringify(next, null, 2).replaceAll('\n', eol)}${text.slice(parsed.root.end)}`;
  if (readsAs(rewritten, next)) return rewritten;
  throw new Error(`lockedfile: internal: the new value of ${path} could not be written as JSONC; the file is unchanged. Please report this.`);
}

function readsAs(text: string, value: unknown): boolean {
  const parsed = parseJsoncFast(text);
  return parsed !== undefined && sameJson(parsed.value, value);
}
