// A new value written into JSONC text as the smallest edits to it, all located from one parse:
// a changed leaf is replaced where it stands, a removed member or element is cut out with its
// comma and the comments on its own line, new ones go after the last kept one (or where they
// were inserted, in arrays) in the layout around them. Everything else stays byte for byte:
// comments, blank lines, commas inside comments, the indentation and line endings.
import { type ArrayNode, type Entry, type Node, type ObjectNode, type Parsed, eolOf } from './parse.js';
import { checkJsonValue, isPlainObject, sameJson } from './value.js';

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** A new member (with its key) or element, and whether it ends its container. */
interface Item {
  key?: string;
  value: unknown;
  where: string;
  last?: boolean;
}

/** A step of a container's new sequence of entries: an old entry kept (and maybe changed), or a new one. */
type Step = { old: Entry; value: unknown; before: unknown; where: string; same?: boolean } | { old?: undefined; key?: string; value: unknown; where: string };

/**
 * How many comparisons of elements (and steps) an array's diff may make: about the number of
 * elements plus the square of the number inserted and removed. Beyond, the changed stretch pairs
 * by position.
 */
const MAX_DIFF_WORK = 250_000;

export function editJsoncText(text: string, parsed: Parsed, next: unknown, file: string): string {
  const root = parsed.root!;
  const eol = eolOf(text);
  const comments = new Map(parsed.comments.map((comment) => [comment.start, comment.end]));
  const edits: Edit[] = [];

  /** Where the line holding `offset` starts (after a CRLF, LF or lone CR). */
  const loneCr = text.includes('\r') && /\r(?!\n)/.test(text); // includes: native, and most files have no CR
  const lineStart = (offset: number) => {
    if (!loneCr) return text.lastIndexOf('\n', offset - 1) + 1; // native, for the usual files
    let at = offset;
    while (at > 0 && text[at - 1] !== '\n' && text[at - 1] !== '\r') at--;
    return at;
  };
  /** The line ending that ends the line before the one starting at `start` (the text's usual one at the first line). */
  const eolBefore = (start: number) => (text[start - 1] === '\n' ? (text[start - 2] === '\r' ? '\r\n' : '\n') : text[start - 1] === '\r' ? '\r' : eol);
  const isBlank = (from: number, to: number) => /^[ \t]*$/.test(text.slice(from, to));
  /** The whitespace before `offset` on its line, or undefined when something else is there. */
  const leadOf = (offset: number) => {
    const start = lineStart(offset);
    return isBlank(start, offset) ? text.slice(start, offset) : undefined;
  };
  const indentOfLine = (offset: number) => /^[ \t]*/.exec(text.slice(lineStart(offset)))![0];
  const unit = (() => {
    // The first entries tell: where none of them starts a line (one-line JSON), none will.
    for (const entry of root.kind === 'object' || root.kind === 'array' ? root.entries.slice(0, 8) : []) {
      const lead = leadOf(entry.start);
      if (lead) return lead;
    }
    return '  ';
  })();

  /** Past the entry's value, its comma and the comments that start on that line after them. */
  const tailOf = (entry: Entry) => {
    let at = entry.comma === -1 ? entry.value.end : entry.comma + 1;
    for (;;) {
      let next = at;
      while (text[next] === ' ' || text[next] === '\t') next++;
      const end = comments.get(next);
      if (end === undefined) return at;
      at = end;
    }
  };
  /** Where the line break after `offset` starts, past spaces and tabs only; -1 if something else comes first. */
  const lineBreakAfter = (offset: number) => {
    let at = offset;
    while (text[at] === ' ' || text[at] === '\t') at++;
    return text[at] === '\n' || text[at] === '\r' ? at : -1;
  };
  /** The offset just past the line break that ends the line holding `offset` (or the text's end), or -1 if something else comes first. */
  const pastLineEnd = (offset: number) => {
    const at = lineBreakAfter(offset);
    if (at !== -1) return at + (text[at] === '\r' && text[at + 1] === '\n' ? 2 : 1);
    let end = offset;
    while (text[end] === ' ' || text[end] === '\t') end++;
    return end === text.length ? end : -1;
  };

  /** `value` as JSON over lines indented from `indent`, ending them with `lineEnd`. */
  const serialize = (value: unknown, indent: string, where: string, lineEnd: string) => {
    checkJsonValue(value, file, where);
    return JSON.stringify(value, null, unit).replaceAll('\n', `${lineEnd}${indent}`);
  };
  const keyOf = (key: string | undefined) => (key === undefined ? '' : `${JSON.stringify(key)}: `);
  const member = ({ key, value, where }: Item, indent: string, lineEnd: string) => `${keyOf(key)}${serialize(value, indent, where, lineEnd)}`;
  const inline = ({ key, value, where }: Item) => {
    checkJsonValue(value, file, where);
    return `${keyOf(key)}${oneLineJson(value)}`;
  };

  /** Replaces `node` by `value`: on one line when its container is on one line, else in the file's indentation. */
  const replace = (node: Node, value: unknown, where: string, onOneLine: boolean) => {
    let written: string;
    if (onOneLine) {
      checkJsonValue(value, file, where);
      written = oneLineJson(value);
    } else {
      written = serialize(value, indentOfLine(node.start), where, eolBefore(lineStart(node.start)));
    }
    edits.push({ start: node.start, end: node.end, text: written });
  };

  /**
   * Changes `node` (which holds `before`) to hold `after`, which differs from it; `where` names it
   * in errors ($.a[2]). Each value is compared once, by its container, before it is changed.
   */
  const change = (node: Node, before: unknown, after: unknown, where: string, onOneLine = false): void => {
    if (node.kind === 'object' && isPlainObject(before) && isPlainObject(after)) return changeObject(node, before, after, where);
    if (node.kind === 'array' && Array.isArray(before) && Array.isArray(after)) return changeArray(node, before, after, where);
    replace(node, after, where, onOneLine);
  };

  const changeObject = (node: ObjectNode, before: Record<string, unknown>, after: Record<string, unknown>, where: string) => {
    const present = (object: Record<string, unknown>, key: string) => Object.hasOwn(object, key) && object[key] !== undefined;
    // With duplicate keys the last one holds the value, as in JSON.parse; a removed key takes all.
    const lastOf = new Map(node.entries.map((entry) => [entry.key!, entry]));
    const steps: Step[] = [];
    const removed: Entry[] = [];
    for (const entry of node.entries) {
      const key = entry.key!;
      if (!present(after, key)) removed.push(entry);
      else if (lastOf.get(key) === entry) steps.push({ old: entry, value: after[key], before: before[key], where: `${where}.${key}` });
      else steps.push({ old: entry, value: before[key], before: before[key], where }); // an earlier duplicate, untouched
    }
    for (const key of Object.keys(after)) if (present(after, key) && !Object.hasOwn(before, key)) steps.push({ key, value: after[key], where: `${where}.${key}` });
    arrange(node, steps, removed);
  };

  const changeArray = (node: ArrayNode, before: unknown[], after: unknown[], where: string) => {
    const entries = node.entries;
    let head = 0;
    while (head < before.length && head < after.length && sameJson(before[head], after[head])) head++;
    let tail = 0;
    while (tail < before.length - head && tail < after.length - head && sameJson(before[before.length - 1 - tail], after[after.length - 1 - tail])) tail++;
    // Which old elements the new array keeps, so that removing or inserting one moves no other
    // element, nor its comments.
    const pairs = keptElements(before, after, head, before.length - tail, after.length - tail) ?? [];
    const steps: Step[] = [];
    const removed: Entry[] = [];
    let i = 0;
    let j = 0;
    // `same`: already found equal, not to be compared again.
    const keep = (same = true) => steps.push({ old: entries[i]!, before: before[i++], where: `${where}[${j}]`, value: after[j++], same });
    const gap = (untilOld: number, untilNew: number) => {
      // Between kept elements: removed and inserted ones pair up as changed elements, in order.
      while (i < untilOld && j < untilNew) keep(false);
      while (i < untilOld) removed.push(entries[i++]!);
      while (j < untilNew) steps.push({ where: `${where}[${j}]`, value: after[j++] });
    };
    while (i < head) keep();
    for (const [oldIndex, newIndex] of pairs) {
      gap(oldIndex, newIndex);
      keep();
    }
    gap(before.length - tail, after.length - tail);
    while (i < before.length) keep();
    arrange(node, steps, removed);
  };

  /** Writes the container's new sequence: removals cut, changes made, new entries inserted, commas right. */
  const arrange = (node: ObjectNode | ArrayNode, steps: Step[], removed: Entry[]) => {
    const original = node.entries;
    const trailingComma = original.length > 0 && original.at(-1)!.comma !== -1;
    for (const entry of removed) cut(entry);
    const close = node.end - 1;
    const onOneLine = lineStart(close) <= node.start;
    const lastStep = steps.length - 1;
    let pending: Item[] = [];
    let previousOld: Entry | undefined;
    const flush = (before: Entry | undefined) => {
      if (pending.length === 0) return;
      if (before) insertBefore(before, pending);
      else if (previousOld) insertAfter(node, previousOld, pending, trailingComma);
      else insertEmpty(node, close, pending, trailingComma);
      pending = [];
    };
    steps.forEach((step, index) => {
      if (!step.old) {
        pending.push({ key: step.key, value: step.value, where: step.where, last: index === lastStep });
        return;
      }
      flush(step.old);
      if (!step.same && !sameJson(step.before, step.value)) change(step.old.value, step.before, step.value, step.where, onOneLine);
      const isLast = index === lastStep;
      if (!isLast && step.old.comma === -1) edits.push({ start: step.old.value.end, end: step.old.value.end, text: ',' });
      if (isLast && step.old.comma !== -1 && !trailingComma) {
        // `[1, 2]` without its 2 is `[1]`: the space before a cut on the same line goes too.
        let stop = step.old.comma + 1;
        while (text[stop] === ' ' || text[stop] === '\t') stop++;
        edits.push({ start: step.old.comma, end: cutInLine.has(stop) ? stop : step.old.comma + 1, text: '' });
      }
      previousOld = step.old;
    });
    flush(undefined);
  };

  /** Where entries cut from the middle of a line started (see the comma removal in arrange). */
  const cutInLine = new Set<number>();

  /** Removes an entry with its comma, and its lines when it has them to itself. */
  const cut = (entry: Entry) => {
    const start = entry.key === undefined ? entry.value.start : entry.start;
    const end = tailOf(entry);
    const lead = leadOf(start);
    const past = pastLineEnd(end);
    if (lead !== undefined && past !== -1) {
      edits.push({ start: lineStart(start), end: past, text: '' });
    } else if (past !== -1 && entry.comma !== -1) {
      // After something else on its line (`["js", // JavaScript`): it goes with its comments.
      edits.push({ start, end, text: '' });
    } else {
      let stop = entry.comma === -1 ? entry.value.end : entry.comma + 1;
      while (entry.comma !== -1 && (text[stop] === ' ' || text[stop] === '\t')) stop++;
      edits.push({ start, end: stop, text: '' });
      cutInLine.add(start);
    }
  };

  const insertBefore = (entry: Entry, items: Item[]) => {
    const lead = leadOf(entry.start);
    if (lead !== undefined) {
      const lineEnd = eolBefore(lineStart(entry.start));
      const lines = items.map((item) => `${lead}${member(item, lead, lineEnd)},${lineEnd}`).join('');
      edits.push({ start: lineStart(entry.start), end: lineStart(entry.start), text: lines });
    } else {
      edits.push({ start: entry.start, end: entry.start, text: items.map((item) => `${inline(item)}, `).join('') });
    }
  };

  const insertAfter = (node: ObjectNode | ArrayNode, entry: Entry, items: Item[], trailingComma: boolean) => {
    const comma = (item: Item) => (!item.last || trailingComma ? ',' : '');
    const end = tailOf(entry);
    const at = lineBreakAfter(end);
    if (lineStart(entry.start) > node.start && at !== -1 && at < node.end - 1) {
      const indent = indentOfLine(entry.start);
      const lineEnd = eolBefore(pastLineEnd(end)); // the break that ends the entry's line
      edits.push({ start: at, end: at, text: items.map((item) => `${lineEnd}${indent}${member(item, indent, lineEnd)}${comma(item)}`).join('') });
    } else {
      const after = entry.comma === -1 ? entry.value.end : entry.comma + 1;
      edits.push({ start: after, end: after, text: items.map((item) => ` ${inline(item)}${comma(item)}`).join('') });
    }
  };

  const insertEmpty = (node: ObjectNode | ArrayNode, close: number, items: Item[], trailingComma: boolean) => {
    const comma = (item: Item) => (!item.last || trailingComma ? ',' : '');
    const lead = leadOf(close);
    if (lead !== undefined && lineStart(close) > node.start) {
      const indent = lead + unit;
      const lineEnd = eolBefore(lineStart(close));
      const lines = items.map((item) => `${indent}${member(item, indent, lineEnd)}${comma(item)}${lineEnd}`).join('');
      edits.push({ start: lineStart(close), end: lineStart(close), text: lines });
    } else {
      edits.push({ start: close, end: close, text: items.map((item) => `${inline(item)}${comma(item)}`).join(' ') });
    }
  };

  if (!sameJson(parsed.value, next)) change(root, parsed.value, next, '$');
  return apply(text, edits);
}

/** Applies non-overlapping edits (insertions at one offset keep the order they were made in). */
function apply(text: string, edits: Edit[]): string {
  const sorted = edits.map((edit, order) => ({ ...edit, order })).sort((a, b) => a.start - b.start || a.end - b.end || a.order - b.order);
  let result = '';
  let at = 0;
  for (const edit of sorted) {
    if (edit.start < at) throw new Error(`lockedfile: internal: overlapping edits at ${edit.start}`);
    result += text.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return result + text.slice(at);
}

/**
 * The pairs [old index, new index] of the elements the new array keeps between `head` and the
 * ends, found by Myers' diff (a longest common subsequence in time proportional to the elements
 * times the insertions and removals), or undefined when that would take too many comparisons.
 */
export function keptElements(before: unknown[], after: unknown[], head: number, oldEnd: number, newEnd: number): Array<[number, number]> | undefined {
  const n = oldEnd - head;
  const m = newEnd - head;
  if (n === 0 || m === 0) return [];
  const maxD = n + m;
  let work = 0; // comparisons and steps: the budget
  const same = (x: number, y: number) => {
    work++;
    return sameJson(before[head + x], after[head + y]);
  };
  // furthest[k + maxD + 1]: how far along the old elements the path on diagonal k = x - y got.
  const furthest = new Int32Array(2 * maxD + 3);
  const trace: Int32Array[] = []; // trace[d]: furthest for k = -d..d after d steps
  for (let d = 0; d <= maxD; d++) {
    for (let k = -d; k <= d; k += 2) {
      work++;
      const down = k === -d || (k !== d && furthest[k - 1 + maxD + 1]! < furthest[k + 1 + maxD + 1]!);
      let x = down ? furthest[k + 1 + maxD + 1]! : furthest[k - 1 + maxD + 1]! + 1;
      let y = x - k;
      while (x < n && y < m && same(x, y)) {
        x++;
        y++;
      }
      furthest[k + maxD + 1] = x;
      if (x >= n && y >= m) {
        trace.push(furthest.slice(maxD + 1 - d, maxD + 2 + d));
        return backtrack(trace, n, m).map(([x, y]) => [head + x, head + y]);
      }
    }
    trace.push(furthest.slice(maxD + 1 - d, maxD + 2 + d));
    if (work > MAX_DIFF_WORK) return undefined;
  }
  return undefined;
}

/** The diagonal moves (kept elements) of the shortest path whose steps `trace` recorded, in order. */
function backtrack(trace: Int32Array[], n: number, m: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const previous = trace[d - 1]!; // indexed by k + d - 1
    const at = (k: number) => previous[k + d - 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const previousK = down ? k + 1 : k - 1;
    const previousX = at(previousK);
    const previousY = previousX - previousK;
    for (; x > previousX && y > previousY; x--, y--) pairs.push([x - 1, y - 1]);
    x = previousX;
    y = previousY;
  }
  for (; x > 0 && y > 0; x--, y--) pairs.push([x - 1, y - 1]);
  return pairs.reverse();
}

/**
 * `value` as JSON on one line, spaced as people write it there: `{"a": [1, 2]}`. Only for values
 * checkJsonValue accepted (plain objects and arrays, finite numbers, strings, booleans, null).
 */
function oneLineJson(value: unknown): string {
  if (Array.isArray(value)) return `[${Array.from(value, (item) => (item === undefined ? 'null' : oneLineJson(item))).join(', ')}]`;
  if (isPlainObject(value)) {
    const members = Object.keys(value).filter((key) => value[key] !== undefined);
    return `{${members.map((key) => `${JSON.stringify(key)}: ${oneLineJson(value[key])}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}
