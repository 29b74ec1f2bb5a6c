// The persona app's demo, run small (`npm run demo`): real persona processes, a backup process,
// and the end-of-run audit, read back here from the files themselves.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HUMAN_HEADER } from '../examples/persona-app/human.js';
import { run } from './helpers/children.js';
import { readJsoncFile } from './helpers/jsonc.js';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const demo = join(root, 'examples/persona-app/demo.js');
const PERSONAS = ['ada', 'basil', 'cleo', 'dex'];

function lastLine(stdout) {
  return stdout.trim().split('\n').at(-1);
}

test('npm run demo, 4 personas for 2 s: nothing lost, comments kept, every backup whole and consistent', async (t) => {
  const dir = join(tempDir(t), 'app');
  const { code, stdout, stderr } = await run('npm', ['run', '--silent', 'demo', '--', '--personas', '4', '--seconds', '2', '--dir', dir], { cwd: root });
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  const [, learned, persisted, lost] = lastLine(stdout).match(/^personas=4 learned=(\d+) persisted=(\d+) lost=(\d+)$/) ?? assert.fail(stdout);
  assert.equal(lost, '0', stdout);
  assert.equal(persisted, learned);
  assert.ok(Number(learned) >= 20, `the personas learned something: ${learned}`);
  for (const persona of PERSONAS) assert.match(stdout, new RegExp(`^${persona} +\\d+ +\\d+ +\\d+ +0 +[\\d.]+ +[\\d.]+$`, 'm'));

  // Checked again here, from the files: every journaled concept is in human.jsonc under its persona.
  const human = readFileSync(join(dir, 'human.jsonc'), 'utf8');
  assert.ok(human.startsWith(HUMAN_HEADER), 'the comment header is still first');
  const concepts = new Map(readJsoncFile(join(dir, 'human.jsonc')).concepts.map((concept) => [concept.name, concept]));
  let journaled = 0;
  for (const persona of PERSONAS) {
    const lines = readFileSync(join(dir, 'journals', `${persona}.jsonl`), 'utf8').trim().split('\n');
    for (const name of lines.flatMap((line) => JSON.parse(line).learned)) {
      journaled += 1;
      assert.ok(concepts.get(name)?.learned_by.includes(persona), `${persona} learned ${name}`);
    }
    const own = readJsoncFile(join(dir, 'personas', `${persona}.jsonc`));
    assert.equal(own.settings.ticks, lines.length, `${persona}'s file counts its ticks`);
  }
  assert.ok(journaled >= Number(learned));

  const backups = readdirSync(join(dir, 'backups')).filter((name) => !name.startsWith('.'));
  assert.ok(backups.length >= 2, `backups were taken meanwhile: ${backups.length}`);
  for (const backup of backups) {
    const saved = readJsoncFile(join(dir, 'backups', backup, 'human.jsonc'));
    for (const concept of saved.concepts) assert.ok(concepts.has(concept.name), `${backup}: ${concept.name} is still known`);
    for (const persona of PERSONAS) assert.equal(readJsoncFile(join(dir, 'backups', backup, 'personas', `${persona}.jsonc`)).entity, persona);
  }
});

test('npm run demo -- --unsafe: the naive load-modify-save loses concepts, and the last line says how many', async (t) => {
  const dir = join(tempDir(t), 'app');
  const { code, stdout, stderr } = await run(process.execPath, [demo, '--personas', '4', '--seconds', '2', '--unsafe', '--dir', dir]);
  assert.equal(code, 0, stderr);
  const [, learned, persisted, lost] = lastLine(stdout).match(/^personas=4 learned=(\d+) persisted=(\d+) lost=(\d+)$/) ?? assert.fail(stdout);
  assert.ok(Number(lost) > 0, stdout);
  assert.equal(Number(learned) - Number(persisted), Number(lost));
  assert.match(stdout, /comment header lost/);
});

test('NODE_DEBUG=persona,lockedfile logs the merges and the lock traffic', async (t) => {
  const dir = join(tempDir(t), 'app');
  const { code, stderr } = await run(process.execPath, [demo, '--personas', '2', '--seconds', '0.5', '--dir', dir], {
    env: { ...process.env, NODE_DEBUG: 'persona,lockedfile' },
  });
  assert.equal(code, 0, stderr);
  assert.match(stderr, /PERSONA \d+: ada: merge into human\.jsonc: added \[/);
  assert.match(stderr, /PERSONA \d+: backup /);
  assert.match(stderr, /LOCKEDFILE \d+: acquire pid=\d+ path=\S+human\.jsonc/);
});

test('the demo refuses bad arguments with its usage, and starts nothing', async (t) => {
  const dir = join(tempDir(t), 'app');
  const { code, stderr } = await run(process.execPath, [demo, '--personas', '0', '--dir', dir]);
  assert.equal(code, 2);
  assert.match(stderr, /--personas must be a number from 1 to 64, got 0\.\nusage: npm run demo/);
  assert.equal(existsSync(dir), false);
});
