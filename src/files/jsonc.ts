// JSONC that people also edit by hand: read with comments and trailing commas, and a new value
// written back as the smallest edits to the old text (jsonc/edit.ts), so that every comment and
// the formatting of everything that did not change stay byte for byte.
import { LockError } from '../common/errors.js';
import { editJsoncText } from './jsonc/edit.js';
import { parseJsoncFast } from './jsonc/fast.js';
import { JsoncSyntaxError, type Parsed, eolOf, parseJsoncText } from './jsonc/parse.js';
import { checkJsonValue, cloneJson, sameJson } from './jsonc/value.js';
import { setRecent } from './recent.js';

export { checkJsonValue, cloneJson, sameJson };
export type { Parsed };

/** JsoncParseError: the file is not valid JSONC; it was left as it is. `line` and `column` are 1-based. */
export class JsoncParseError extends LockError {
  override readonly name = 'JsoncParseError';
  declare readonly code: 'EJSONCPARSE';
  constructor(
    path: string,
    readonly line: number,
    readonly column: number,
    problem: string,
  ) {
    super('EJSONCPARSE', path, `${path}:${line}:${column}: not valid JSONC (${problem}). Fix the file by hand; it was left as it is.`);
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
 * The parse of the text editJsonc last made (or left as it was) for each file, checked against
 * the new value: the next update of the file, by this process, finds that text again unless
 * another process wrote in between, and need not parse it. Few are kept: they hold big files.
 */
const lastEdited = new Map<string, { text: string; parsed: Parsed }>();

function remember(path: string, text: string, parsed: Parsed): void {
  setRecent(lastEdited, path, { text, parsed }, 8);
}

/**
 * parseJsoncForEdit is parseJsonc for a text about to be edited: when it is the one editJsonc
 * last made for `path`, byte for byte, that text's parse is taken (once: its value is the
 * unchanged original the edit compares against, so it must not be handed out twice).
 */
export function parseJsoncForEdit(text: string, path: string): Parsed {
  const last = lastEdited.get(path);
  lastEdited.delete(path);
  return last?.text === text ? last.parsed : parseJsonc(text, path);
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
  if (edited === text) {
    remember(path, text, parsed); // no edit: nothing differs, and the value was not handed out
    return text;
  }
  const check = readsAs(edited, next);
  if (check) {
    remember(path, edited, check);
    return edited;
  }
  checkJsonValue(next, path);
  const eol = eolOf(text);
  const rewritten = `${text.slice(0, parsed.root.start)}${JSON.stringify(next, null, 2).replaceAll('\n', eol)}${text.slice(parsed.root.end)}`;
  const recheck = readsAs(rewritten, next);
  if (recheck) {
    remember(path, rewritten, recheck);
    return rewritten;
  }
  throw new Error(`lockedfile: internal: the new value of ${path} could not be written as JSONC; the file is unchanged. Please report this.`);
}

/** The parse of `text` when it reads as `value`, else undefined. */
function readsAs(text: string, value: unknown): Parsed | undefined {
  const parsed = parseJsoncFast(text);
  return parsed !== undefined && sameJson(parsed.value, value) ? parsed : undefined;
}
