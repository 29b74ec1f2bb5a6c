// Reading JSONC files back in tests, with a plain parser: a file that does not parse fails the test.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'jsonc-parser';

/** readJsoncFile parses `file` (comments, trailing commas), asserting that it parses. */
export function readJsoncFile(file) {
  const errors = [];
  const value = parse(readFileSync(file, 'utf8'), errors, { allowTrailingComma: true });
  assert.deepEqual(errors, [], `${file} parses`);
  return value;
}
