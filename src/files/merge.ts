/**
 * mergeByKey merges `incoming` records into `existing` without ever dropping one: every existing
 * entry stays (in its place), incoming entries with a new key are appended, and on a key
 * collision `resolve(old, incoming)` decides (by default incoming fields win and fields only
 * the old entry has are kept). Neither input is mutated.
 */
export function mergeByKey<T extends object>(
  existing: readonly T[],
  incoming: readonly T[],
  key: keyof T,
  resolve: (old: T, incoming: T) => T = (old, fresh) => ({ ...old, ...fresh }),
): T[] {
  const merged = [...existing];
  const index = new Map<unknown, number>();
  merged.forEach((entry, position) => {
    if (!index.has(entry[key])) index.set(entry[key], position);
  });
  for (const entry of incoming) {
    const position = index.get(entry[key]);
    if (position === undefined) {
      index.set(entry[key], merged.length);
      merged.push(entry);
    } else {
      merged[position] = resolve(merged[position]!, entry);
    }
  }
  return merged;
}
