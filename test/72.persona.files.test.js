// The persona app's file operations (examples/persona-app/personas.js and human.js), run by real
// processes at once: create, edit, load, back up, export, import and the shared human.jsonc.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tryLock } from 'lockedfile';
import { HUMAN_HEADER, humanFile, updateHumanConceptMap } from '../examples/persona-app/human.js';
import { createPersona, editPersona, exportPersona, importPersona, loadPersonas, personaFile } from '../examples/persona-app/personas.js';
import { moduleFile, spawnChild } from './helpers/children.js';
import { readJsoncFile } from './helpers/jsonc.js';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const personasModule = JSON.stringify(pathToFileURL(join(root, 'examples/persona-app/personas.js')).href);
const humanModule = JSON.stringify(pathToFileURL(join(root, 'examples/persona-app/human.js')).href);
const lockedfileModule = JSON.stringify(pathToFileURL(join(root, 'dist/index.js')).href);

/** A process running `code`, an ES module. */
function nodeChild(t, code) {
  return spawnChild(t, process.execPath, [moduleFile(code)]);
}

/** Child code that says it is ready and then waits for a line on stdin, so that all start at once. */
const READY_THEN_GO = `
  console.log(JSON.stringify({ event: 'ready' }));
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.destroy();`;

/** Starts `children` together: once every one is ready, tells them all to go. */
async function startTogether(children) {
  await Promise.all(children.map((child) => child.next('ready')));
  for (const child of children) child.send('go');
}

async function exitedCleanly(child) {
  const { code, signal } = await child.exited;
  assert.equal(code, 0, `child ${child.pid} exited with ${code ?? signal}: ${child.stderr}`);
}

const tempFiles = (folder) => readdirSync(folder).filter((name) => name.startsWith('.') && name.endsWith('.tmp'));

/** The backup folders (complete ones: hidden names are backups in progress). */
const backupFolders = (dir) => readdirSync(join(dir, 'backups')).filter((name) => !name.startsWith('.'));

/** Adds a hand-written comment to a persona file, as a person editing it would; returns the text. */
function addHandComment(file) {
  const text = readFileSync(file, 'utf8').replace('\n  "settings": {', '\n  // written by hand: keep me\n  "settings": {');
  assert.ok(text.includes('// written by hand: keep me'));
  writeFileSync(file, text);
  return text;
}

test('6 processes create the same persona at once: exactly one succeeds, the others get EPERSONAEXISTS naming the file', async (t) => {
  const dir = tempDir(t);
  const file = personaFile(dir, 'ada');
  const children = Array.from({ length: 6 }, (_, index) =>
    nodeChild(
      t,
      `import { createPersona } from ${personasModule};
      ${READY_THEN_GO}
      try {
        await createPersona(${JSON.stringify(dir)}, 'ada', { settings: { creator: 'creator-${index}' } });
        console.log(JSON.stringify({ event: 'done', ok: true }));
      } catch (error) {
        console.log(JSON.stringify({ event: 'done', ok: false, name: error.name, code: error.code, path: error.path, message: error.message }));
      }`,
    ),
  );
  await startTogether(children);
  const results = await Promise.all(children.map((child) => child.next('done')));
  await Promise.all(children.map(exitedCleanly));

  const winners = results.flatMap((result, index) => (result.ok ? [`creator-${index}`] : []));
  assert.equal(winners.length, 1, `exactly one creates it: ${JSON.stringify(results)}`);
  for (const result of results.filter((result) => !result.ok)) {
    assert.equal(result.code, 'EPERSONAEXISTS', JSON.stringify(result));
    assert.equal(result.name, 'PersonaError');
    assert.equal(result.path, file);
    assert.ok(result.message.includes(file), result.message);
  }
  const persona = readJsoncFile(file);
  assert.equal(persona.entity, 'ada');
  assert.equal(persona.settings.creator, winners[0], 'the file holds the winner\'s persona');
  assert.deepEqual(tempFiles(join(dir, 'personas')), [], 'no temp file is left behind');
  assert.deepEqual(readdirSync(join(dir, 'personas')).sort(), ['ada.jsonc', 'ada.jsonc.lock']);
});

test('creating a persona that exists (hand-edited) rejects EPERSONAEXISTS, leaves its bytes alone and frees the lock', async (t) => {
  const dir = tempDir(t);
  const file = personaFile(dir, 'ada');
  await createPersona(dir, 'ada', { settings: { mood: 'calm' } });
  const before = addHandComment(file);
  await assert.rejects(createPersona(dir, 'ada', { settings: { mood: 'loud' } }), (error) => {
    assert.equal(error.code, 'EPERSONAEXISTS');
    assert.equal(error.path, file);
    assert.ok(error.message.includes(file), error.message);
    return true;
  });
  assert.equal(readFileSync(file, 'utf8'), before);
  const handle = await tryLock(file);
  assert.ok(handle, 'the persona\'s lock is free again');
  handle.release();
  assert.deepEqual(tempFiles(join(dir, 'personas')), []);
});

test('editPersona keeps hand comments; missing persona is EPERSONAMISSING; a throwing fn or a rename changes nothing', async (t) => {
  const dir = tempDir(t);
  const file = personaFile(dir, 'ada');
  await createPersona(dir, 'ada', { settings: { mood: 'calm' } });
  const before = addHandComment(file);

  const saved = await editPersona(dir, 'ada', (persona) => {
    persona.settings.mood = 'bold';
  });
  assert.equal(saved.settings.mood, 'bold');
  const edited = readFileSync(file, 'utf8');
  assert.equal(edited, before.replace('"mood": "calm"', '"mood": "bold"'), 'only the value changed; the comment is kept');
  assert.equal(readJsoncFile(file).settings.mood, 'bold');

  const missingFile = personaFile(dir, 'nobody');
  let called = false;
  await assert.rejects(
    editPersona(dir, 'nobody', () => void (called = true)),
    (error) => {
      assert.equal(error.code, 'EPERSONAMISSING');
      assert.equal(error.path, missingFile);
      assert.ok(error.message.includes(missingFile), error.message);
      assert.match(error.message, /[Cc]reate it/);
      return true;
    },
  );
  assert.equal(called, false);
  assert.equal(existsSync(missingFile), false);

  const boom = new Error('boom');
  await assert.rejects(
    editPersona(dir, 'ada', (persona) => {
      persona.settings.mood = 'half-done';
      throw boom;
    }),
    (error) => error === boom,
  );
  assert.equal(readFileSync(file, 'utf8'), edited, 'a throwing fn leaves the file byte for byte');

  await assert.rejects(
    editPersona(dir, 'ada', (persona) => {
      persona.entity = 'eve';
      persona.settings.mood = 'renamed';
    }),
    (error) => error.code === 'EPERSONAINVALID' && error.path === file,
  );
  await assert.rejects(
    editPersona(dir, 'ada', (persona) => {
      persona.concepts = { name: 'not a list' };
    }),
    { code: 'EPERSONAINVALID' },
  );
  await assert.rejects(
    editPersona(dir, 'ada', (persona) => {
      persona.settings = ['not', 'an', 'object'];
    }),
    { code: 'EPERSONAINVALID' },
  );
  assert.equal(readFileSync(file, 'utf8'), edited, 'a refused edit leaves the file byte for byte');
  assert.equal(existsSync(personaFile(dir, 'eve')), false);

  // With no persona at all yet (no personas/ folder), the answer is the same.
  const empty = tempDir(t);
  await assert.rejects(editPersona(empty, 'ada', () => {}), { code: 'EPERSONAMISSING' });
  await assert.rejects(exportPersona(empty, 'ada', join(empty, 'out.jsonc')), { code: 'EPERSONAMISSING', path: personaFile(empty, 'ada') });
  assert.deepEqual(tempFiles(join(dir, 'personas')), []);
});

test('invalid persona names (../x, "", a/b, .hidden, 65 characters) are TypeErrors and create nothing', async (t) => {
  const dir = tempDir(t);
  const names = ['../x', '', 'a/b', '.hidden', 'a'.repeat(65), 'a\nb', undefined];
  for (const name of names) {
    const label = JSON.stringify(name);
    assert.throws(() => personaFile(dir, name), TypeError, label);
    await assert.rejects(createPersona(dir, name, { settings: {} }), TypeError, label);
    await assert.rejects(editPersona(dir, name, () => {}), TypeError, label);
    await assert.rejects(exportPersona(dir, name, join(dir, 'out.jsonc')), TypeError, label);
  }
  assert.deepEqual(readdirSync(dir), [], 'nothing was created');
  // The limit itself is fine: 64 characters make a persona.
  await createPersona(dir, 'a'.repeat(64));
  assert.deepEqual(readdirSync(join(dir, 'personas')).filter((name) => name.endsWith('.jsonc')), [`${'a'.repeat(64)}.jsonc`]);
});

test('loadPersonas never sees half a file while another process rewrites a persona 150 times', async (t) => {
  const dir = tempDir(t);
  for (const name of ['ada', 'big', 'cy']) await createPersona(dir, name, { settings: { blob: '', size: 0 } });
  const writer = nodeChild(
    t,
    `import { editPersona } from ${personasModule};
    ${READY_THEN_GO}
    for (let i = 0; i < 150; i++) {
      const size = 10_000 + Math.floor(Math.random() * 90_001);
      await editPersona(${JSON.stringify(dir)}, 'big', (persona) => {
        persona.settings.blob = String.fromCharCode(97 + (i % 26)).repeat(size);
        persona.settings.size = size;
      });
    }`,
  );
  await startTogether([writer]);
  let writing = true;
  const exited = writer.exited.then(() => (writing = false));
  let loads = 0;
  const sizes = new Set();
  while (writing) {
    const personas = await loadPersonas(dir);
    loads += 1;
    assert.deepEqual(personas.map((persona) => persona.entity), ['ada', 'big', 'cy'], 'every persona, every time');
    for (const { entity, settings } of personas) assert.equal(settings.blob.length, settings.size, `${entity}: a whole blob`);
    sizes.add(personas[1].settings.size);
  }
  await exited;
  await exitedCleanly(writer);
  const last = (await loadPersonas(dir))[1].settings;
  assert.equal(last.blob.length, last.size);
  assert.ok(last.size >= 10_000);
  assert.ok(loads >= 10, `loads ran meanwhile: ${loads}`);
  assert.ok(sizes.size >= 5, `the loads saw several of the writes (${sizes.size} versions in ${loads} loads)`);
  t.diagnostic(`${loads} loads saw ${sizes.size} versions`);
});

const ENERGY_NAMES = ['p1', 'p2', 'p3', 'p4'];

/** Child code: `moves` times, moves energy between two personas under both their locks. */
function moverCode(dir, moves) {
  return `import { withLock } from ${lockedfileModule};
    import { editPersona, personaFile } from ${personasModule};
    const dir = ${JSON.stringify(dir)};
    const names = ${JSON.stringify(ENERGY_NAMES)};
    ${READY_THEN_GO}
    for (let i = 0; i < ${moves}; i++) {
      const first = names[Math.floor(Math.random() * names.length)];
      const second = names.filter((name) => name !== first)[Math.floor(Math.random() * (names.length - 1))];
      const [a, b] = [first, second].sort((x, y) => (personaFile(dir, x) < personaFile(dir, y) ? -1 : 1));
      const amount = (1 + Math.floor(Math.random() * 20)) * (Math.random() < 0.5 ? -1 : 1);
      await withLock(personaFile(dir, a), () =>
        withLock(personaFile(dir, b), async () => {
          await editPersona(dir, a, (persona) => void (persona.settings.energy -= amount));
          await editPersona(dir, b, (persona) => void (persona.settings.energy += amount));
        }),
      );
    }
    console.log(JSON.stringify({ event: 'moved' }));`;
}

/** Child code: backs up until told to stop on stdin, then says how many backups it took. */
function backupLoopCode(dir) {
  return `import { backupPersonas } from ${personasModule};
    let stop = false;
    process.stdin.once('data', () => { stop = true; process.stdin.destroy(); });
    console.log(JSON.stringify({ event: 'ready' }));
    let count = 0;
    while (!stop) {
      await backupPersonas(${JSON.stringify(dir)});
      count += 1;
    }
    console.log(JSON.stringify({ event: 'stopped', count }));`;
}

/** The four energies in a backup folder (or the app folder), after checking every file is there. */
function energies(folder) {
  assert.equal(readJsoncFile(join(folder, 'human.jsonc')).entity, 'human', `${folder}: human.jsonc`);
  return ENERGY_NAMES.map((name) => {
    const persona = readJsoncFile(join(folder, 'personas', `${name}.jsonc`));
    assert.equal(persona.entity, name);
    return persona.settings.energy;
  });
}

const sum = (values) => values.reduce((total, value) => total + value, 0);

test('backupPersonas is one consistent snapshot while 2 processes move energy between personas: every backup sums to 400', async (t) => {
  const dir = tempDir(t);
  await updateHumanConceptMap(dir, (map) => map);
  for (const name of ENERGY_NAMES) await createPersona(dir, name, { settings: { energy: 100 } });
  const movers = [nodeChild(t, moverCode(dir, 150)), nodeChild(t, moverCode(dir, 150))];
  const backup = nodeChild(t, backupLoopCode(dir));
  await backup.next('ready');
  await startTogether(movers);
  await Promise.all(movers.map((mover) => mover.next('moved')));
  await Promise.all(movers.map(exitedCleanly));
  backup.send('stop');
  const { count } = await backup.next('stopped');
  await exitedCleanly(backup);

  const finals = energies(dir);
  assert.equal(sum(finals), 400, `the app's own files: ${finals}`);
  assert.notDeepEqual(finals, [100, 100, 100, 100], 'energy did move');
  const folders = backupFolders(dir);
  assert.equal(folders.length, count, 'every backup the child took is there');
  assert.ok(folders.length >= 5, `backups were taken during the moves: ${folders.length}`);
  const seen = new Set();
  for (const folder of folders) {
    const values = energies(join(dir, 'backups', folder));
    assert.equal(sum(values), 400, `${folder} is a consistent snapshot: ${values}`);
    seen.add(values.join());
  }
  assert.ok(seen.size >= 3, `the backups caught the moves in progress: ${seen.size} distinct states`);
  t.diagnostic(`${folders.length} backups, ${seen.size} distinct states`);
});

test('a backup folder is never partial: a backup process killed mid-loop leaves only complete folders', async (t) => {
  const dir = tempDir(t);
  await updateHumanConceptMap(dir, (map) => map);
  for (const name of ENERGY_NAMES) await createPersona(dir, name, { settings: { energy: 100 } });
  const backup = nodeChild(t, backupLoopCode(dir));
  await backup.next('ready');
  await delay(300);
  const { signal } = await backup.kill('SIGKILL');
  assert.equal(signal, 'SIGKILL', `killed, not finished: ${backup.stderr}`);

  const folders = backupFolders(dir);
  assert.ok(folders.length >= 1, 'some backups completed before the kill');
  for (const folder of folders) {
    const path = join(dir, 'backups', folder);
    assert.deepEqual(readdirSync(path).sort(), ['human.jsonc', 'personas'], folder);
    assert.deepEqual(readdirSync(join(path, 'personas')).sort(), ENERGY_NAMES.map((name) => `${name}.jsonc`), folder);
    assert.equal(sum(energies(path)), 400);
  }
  const hidden = readdirSync(join(dir, 'backups')).filter((name) => name.startsWith('.'));
  t.diagnostic(`${folders.length} complete backups; left in progress: ${hidden.length}`);
});

test('exportPersona copies the bytes; importPersona adds them, refuses an existing persona unless replace, and refuses non-personas', async (t) => {
  const from = join(tempDir(t), 'app');
  const to = join(tempDir(t), 'app');
  const outside = tempDir(t);
  await createPersona(from, 'ada', { settings: { mood: 'calm' }, concepts: [{ name: 'tea', type: 'topic' }] });
  const original = addHandComment(personaFile(from, 'ada'));

  const exported = join(outside, 'ada.export.jsonc');
  await exportPersona(from, 'ada', exported);
  assert.equal(readFileSync(exported, 'utf8'), original, 'the export is the file, comment and all');

  const imported = await importPersona(to, exported);
  assert.equal(imported.entity, 'ada');
  assert.deepEqual(imported.settings, { mood: 'calm' });
  const file = personaFile(to, 'ada');
  assert.equal(readFileSync(file, 'utf8'), original, 'the import is the exported bytes');

  await editPersona(to, 'ada', (persona) => void (persona.settings.mood = 'changed here'));
  const changed = readFileSync(file, 'utf8');
  await assert.rejects(importPersona(to, exported), (error) => {
    assert.equal(error.code, 'EPERSONAEXISTS');
    assert.equal(error.path, file);
    assert.ok(error.message.includes(file), error.message);
    return true;
  });
  assert.equal(readFileSync(file, 'utf8'), changed, 'a refused import leaves the persona alone');

  await importPersona(to, exported, { replace: true });
  assert.equal(readFileSync(file, 'utf8'), original, 'replace: the exported bytes again');
  assert.deepEqual(tempFiles(join(to, 'personas')), []);

  const fresh = join(tempDir(t), 'app');
  const sources = {
    'broken.jsonc': '// half a persona\n{ "entity": "eve", "concepts": [\n',
    'no-entity.jsonc': '{ "settings": {}, "concepts": [] }\n',
    'concepts-object.jsonc': '// not a list\n{ "entity": "eve", "concepts": { "name": "tea" } }\n',
    'nameless-concept.jsonc': '{ "entity": "eve", "concepts": [{ "type": "topic" }] }\n',
    'bad-entity.jsonc': '{ "entity": "../eve", "concepts": [] }\n',
  };
  for (const [name, text] of Object.entries(sources)) {
    const source = join(outside, name);
    writeFileSync(source, text);
    await assert.rejects(importPersona(fresh, source), (error) => {
      assert.equal(error.code, 'EPERSONAINVALID', `${name}: ${error.message}`);
      assert.equal(error.path, source);
      assert.ok(error.message.includes(source), error.message);
      return true;
    });
    await assert.rejects(importPersona(to, source, { replace: true }), { code: 'EPERSONAINVALID' });
  }
  assert.equal(existsSync(fresh), false, 'nothing was created for a refused import');
  assert.deepEqual(readdirSync(join(to, 'personas')).filter((name) => name.endsWith('.jsonc')), ['ada.jsonc']);
  assert.equal(readFileSync(file, 'utf8'), original);
});

test('updateHumanConceptMap on a missing file creates human.jsonc with the comment header first', async (t) => {
  const dir = tempDir(t);
  const map = await updateHumanConceptMap(dir, (draft) => void draft.aliases.push('the user'));
  assert.equal(map.entity, 'human');
  assert.deepEqual(map.aliases, ['the user']);
  assert.deepEqual(map.concepts, []);
  const text = readFileSync(humanFile(dir), 'utf8');
  assert.ok(text.startsWith(`${HUMAN_HEADER}\n{`), text);
  assert.deepEqual(readJsoncFile(humanFile(dir)), map);
});

test('4 processes x 40 learnConcepts, starting with no human.jsonc: all 160 concepts kept with their persona, header first', async (t) => {
  const dir = tempDir(t);
  const personas = ['ada', 'basil', 'cleo', 'dex'];
  const children = personas.map((persona) =>
    nodeChild(
      t,
      `import { learnConcepts } from ${humanModule};
      ${READY_THEN_GO}
      for (let i = 0; i < 40; i++) {
        const concept = { name: '${persona}-' + i, description: 'learned by ${persona}', level_current: 0.5, level_ideal: 0.5, level_elasticity: 0.3, type: 'topic', last_updated: new Date().toISOString() };
        await learnConcepts(${JSON.stringify(dir)}, '${persona}', [concept]);
      }
      console.log(JSON.stringify({ event: 'learned' }));`,
    ),
  );
  await startTogether(children);
  await Promise.all(children.map((child) => child.next('learned')));
  await Promise.all(children.map(exitedCleanly));

  const text = readFileSync(humanFile(dir), 'utf8');
  assert.ok(text.startsWith(`${HUMAN_HEADER}\n{`), 'the header is still first');
  assert.equal(text.split(HUMAN_HEADER).length, 2, 'one header: the file was created once');
  const { concepts } = readJsoncFile(humanFile(dir));
  assert.equal(concepts.length, 160);
  assert.equal(new Set(concepts.map((concept) => concept.name)).size, 160);
  for (const persona of personas) {
    for (let i = 0; i < 40; i++) {
      const concept = concepts.find((entry) => entry.name === `${persona}-${i}`);
      assert.ok(concept, `${persona}-${i} is kept`);
      assert.deepEqual(concept.learned_by, [persona]);
    }
  }
  assert.deepEqual(tempFiles(dir), []);
});
