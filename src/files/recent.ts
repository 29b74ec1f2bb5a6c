// The bound of the small caches that keep what this process last wrote to a file: they hold
// whole files, so only the few most recently set stay.

/** setRecent sets `key` in `map` as its newest entry, dropping the oldest beyond `limit` entries. */
export function setRecent<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key); // set again, it becomes the newest
  if (map.size >= limit) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
