import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readJsonc, updateJsonc } from 'lockedfile';
import { moduleFile, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { entry } from './helpers/package.js';

const header = '// Edited by hand too: keep this line.\n';
const comments = [header.trim(), '/* one more per save */'];

// Each writer prints the save count every update it saw resolve: those updates are acknowledged.
function writer(t, file, backend) {
  const code = `
    import { updateJsonc } from ${JSON.stringify(entry)};
    for (;;) {
      const value = await updateJsonc(${JSON.stringify(file)}, (draft) => {
        draft.saves += 1;
        draft.log.push(process.pid);
        draft.padding = String(draft.saves).repeat(16 * 1024); // big enough to be caught half written
      }, { backend: '${backend}' });
      console.log(JSON.stringify({ event: 'saved', saves: value.saves }));
    }`;
  return spawnChild(t, process.execPath, [moduleFile(code)]);
}

for (const backend of ['flock', 'pidfile']) {
  test(`${backend}: updateJsonc writers SIGKILLed at random moments never tear the file or lose an acknowledged update`, async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'human.jsonc');
    writeFileSync(file, `${header}{\n  /* one more per save */\n  "saves": 0,\n  "log": [],\n  "padding": ""\n}\n`);
    let floor = 0;
    for (let round = 0; round < 10; round++) {
      const writers = [writer(t, file, backend), writer(t, file, backend), writer(t, file, backend)];
      // Once one of them has saved (a loaded machine may take a while to start three processes),
      // then at a random moment.
      const firstSave = Promise.race(writers.map((child) => child.next('saved').then((line) => child.lines.unshift(line), () => {})));
      await Promise.race([firstSave, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 250));
      // Killed one by one at slightly different moments: some hold the lock, some wait, some write.
      for (const child of writers) {
        await child.kill('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      }
      const acknowledged = Math.max(floor, ...writers.flatMap((child) => child.lines.map((line) => line.saves)));
      const text = readFileSync(file, 'utf8');
      const value = await readJsonc(file); // throws if the file is torn
      assert.ok(value.saves >= acknowledged, `round ${round}: the file has ${value.saves} saves, ${acknowledged} were acknowledged`);
      assert.equal(value.log.length, value.saves, `round ${round}: the count and the log moved together`);
      const padding = value.saves === 0 ? '' : String(value.saves).repeat(16 * 1024);
      assert.equal(value.padding, padding, `round ${round}: the padding is whole`);
      for (const comment of comments) assert.ok(text.includes(comment), `round ${round}: ${comment}`);
      floor = value.saves;
    }
    assert.ok(floor > 0, 'the writers got some updates through');

    // The next update, which needs the lock the killed writers held, also sweeps their temp files.
    const value = await updateJsonc(file, (draft) => void (draft.saves += 1), { backend });
    assert.equal(value.saves, floor + 1);
    const left = readdirSync(dir).filter((name) => name.endsWith('.tmp'));
    assert.deepEqual(left, []);
  });
}
