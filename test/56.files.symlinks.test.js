// Symlinks in a sticky, world-writable folder (/tmp), where anyone may plant one: the package
// resolves links itself, out of sight of the kernel's fs.protected_symlinks, so it applies that
// rule itself. A link there is followed only if it belongs to the caller or to the folder's
// owner; any other, as the file or as a folder on the way, is refused and nothing is touched.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lchownSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lock, updateFile, updateJsonc, writeFileAtomic } from 'lockedfile';
import { run } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const skip = process.getuid?.() === 0 ? false : 'only root can give a symlink to another user (lchown)';
const NOBODY = 65534;

/**
 * A root-only folder `secret` holding secret.json, and a sticky, world-writable folder `sticky`
 * (owned by root unless `owner` says otherwise) beside it.
 */
function setUp(t, owner = 0) {
  const dir = tempDir(t);
  const secret = join(dir, 'secret');
  mkdirSync(secret, { mode: 0o700 });
  writeFileSync(join(secret, 'secret.json'), '{"token": "s3cret"}\n');
  const sticky = join(dir, 'sticky');
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  chownSync(sticky, owner, owner);
  return { dir, secret, sticky };
}

/** Plants a symlink at `link` to `target`, owned by `uid`. */
function plant(link, target, uid) {
  symlinkSync(target, link);
  lchownSync(link, uid, uid);
  return link;
}

/** The refusal: ELOCKSYMLINK for `path`, naming the link, its owner and the shared folder. */
function refused(path, link, sticky) {
  return (error) => {
    assert.equal(error.code, 'ELOCKSYMLINK', error.stack);
    assert.equal(error.name, 'LockError');
    assert.equal(error.path, path);
    assert.match(error.message, /^lockedfile: /);
    assert.ok(error.message.includes(link), error.message);
    assert.ok(error.message.includes(`uid ${NOBODY}`), error.message);
    assert.ok(error.message.includes(`${sticky},`), error.message);
    assert.match(error.message, /sticky world-writable/);
    assert.match(error.message, /real path/);
    return true;
  };
}

/** Asserts that nothing was written, created or locked in `secret` or `sticky`. */
function untouched(secret, sticky, planted) {
  assert.equal(readFileSync(join(secret, 'secret.json'), 'utf8'), '{"token": "s3cret"}\n');
  assert.deepEqual(readdirSync(secret), ['secret.json'], 'no lock or temp file beside the target');
  assert.deepEqual(readdirSync(sticky).sort(), planted.sort(), 'no lock or temp file beside the link');
}

/** Every call that resolves a path, each expected to refuse `path`. */
function everyCall(path) {
  return {
    updateFile: () => updateFile(path, () => 'overwritten'),
    updateJsonc: () => updateJsonc(path, (draft) => void (draft.token = 'mine'), { default: {} }),
    writeFileAtomic: () => writeFileAtomic(path, 'overwritten'),
    'lock (flock)': () => lock(path, { backend: 'flock' }).then((handle) => handle.release()),
    'lock (pidfile)': () => lock(path, { backend: 'pidfile' }).then((handle) => handle.release()),
  };
}

test("another user's symlink to a file, in a sticky world-writable folder, is refused by every call; nothing is written or locked", { skip }, async (t) => {
  const { secret, sticky } = setUp(t);
  const link = plant(join(sticky, 'config.json'), join(secret, 'secret.json'), NOBODY);
  for (const [name, call] of Object.entries(everyCall(link))) {
    await assert.rejects(call(), refused(link, link, sticky), name);
    untouched(secret, sticky, ['config.json']);
  }
});

test("another user's symlink to a folder, in a sticky world-writable folder, is refused as a folder on the way", { skip }, async (t) => {
  const { secret, sticky } = setUp(t);
  const link = plant(join(sticky, 'shared'), secret, NOBODY);
  for (const file of ['secret.json', 'new.json']) {
    const path = join(link, file);
    for (const [name, call] of Object.entries(everyCall(path))) {
      await assert.rejects(call(), refused(path, link, sticky), `${name} ${file}`);
      untouched(secret, sticky, ['shared']);
    }
  }
});

test("another user's link met inside the target of the caller's own link is refused too", { skip }, async (t) => {
  const { dir, secret, sticky } = setUp(t);
  const planted = plant(join(sticky, 'shared'), secret, NOBODY);
  // The caller's own link, in the caller's own folder, leads through the planted one.
  const path = join(dir, 'mine.json');
  symlinkSync(join(planted, 'secret.json'), path);
  await assert.rejects(updateFile(path, () => 'overwritten'), refused(path, planted, sticky));
  await assert.rejects(lock(path), refused(path, planted, sticky));
  untouched(secret, sticky, ['shared']);
});

test("the caller's own link in a sticky world-writable folder is followed", { skip }, async (t) => {
  const { secret, sticky } = setUp(t);
  const link = plant(join(sticky, 'config.json'), join(secret, 'secret.json'), 0);
  plant(join(sticky, 'folder'), secret, 0);
  await updateFile(link, () => 'one');
  assert.equal(readFileSync(join(secret, 'secret.json'), 'utf8'), 'one');
  await writeFileAtomic(join(sticky, 'folder', 'secret.json'), 'two');
  assert.equal(readFileSync(join(secret, 'secret.json'), 'utf8'), 'two');
  const handle = await lock(link);
  assert.equal(handle.lockfilePath, join(secret, 'secret.json.lock'));
  handle.release();
});

test("the folder owner's link in its own sticky world-writable folder is followed", { skip }, async (t) => {
  const { secret, sticky } = setUp(t, NOBODY);
  const link = plant(join(sticky, 'config.json'), join(secret, 'secret.json'), NOBODY);
  await updateJsonc(link, (draft) => void (draft.token = 'rotated'));
  assert.deepEqual(JSON.parse(readFileSync(join(secret, 'secret.json'), 'utf8')), { token: 'rotated' });
  assert.deepEqual(readdirSync(sticky), ['config.json']);
});

test("another user's link is followed in a folder that is not both sticky and world-writable", { skip }, async (t) => {
  const { dir, secret } = setUp(t);
  for (const [name, mode] of [['world-writable only', 0o777], ['sticky only', 0o1755]]) {
    const folder = join(dir, name);
    mkdirSync(folder);
    chmodSync(folder, mode);
    const link = plant(join(folder, 'config.json'), join(secret, 'secret.json'), NOBODY);
    await updateFile(link, () => name);
    assert.equal(readFileSync(join(secret, 'secret.json'), 'utf8'), name);
  }
});

test("the command line refuses another user's link in a sticky world-writable folder: status and run exit 69 with the reason", { skip }, async (t) => {
  const { dir, secret, sticky } = setUp(t);
  const link = plant(join(sticky, 'config.json'), join(secret, 'secret.json'), NOBODY);
  const status = await run(process.execPath, [cli, 'status', link]);
  assert.equal(status.code, 69, status.stdout);
  assert.match(status.stderr, /^lockedfile: .*will not follow/);
  assert.ok(status.stderr.includes(link) && status.stderr.includes(`uid ${NOBODY}`), status.stderr);
  const ran = join(dir, 'ran');
  const locked = await run(process.execPath, [cli, link, '--', 'touch', ran]);
  assert.equal(locked.code, 69, locked.stdout);
  assert.match(locked.stderr, /^lockedfile: will not follow/);
  assert.deepEqual(readdirSync(dir).sort(), ['secret', 'sticky'], 'the command did not run');
  untouched(secret, sticky, ['config.json']);
});
