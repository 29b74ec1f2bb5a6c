import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from './helpers/children.js';
import { needs, testWhere } from './helpers/platform.js';
import { findRuntime } from './helpers/runtimes.js';
import { tempDir } from './helpers/temp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A folder for an app that depends on lockedfile, with its package.json (Deno needs one to use node_modules). */
function appDir(t) {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, dependencies: { lockedfile: '*' } }));
  return dir;
}

test("require('lockedfile') works from CommonJS, without warnings", async (t) => {
  const dir = appDir(t);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'lockedfile'));
  writeFileSync(
    join(dir, 'app.cjs'),
    `const { lockSync, LockTimeoutError } = require('lockedfile');
     const handle = lockSync(${JSON.stringify(join(dir, 'a.json'))});
     console.log(handle.backend, typeof LockTimeoutError);
     handle.release();`,
  );
  const { code, stdout, stderr } = await run(process.execPath, ['app.cjs'], { cwd: dir });
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  assert.equal(stdout.trim(), 'flock function');
});

test('type declarations ship with the package and declare the whole API', () => {
  const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const declarations = readFileSync(join(root, packageJson.exports['.'].types), 'utf8');
  for (const name of ['lock', 'tryLock', 'lockSync', 'tryLockSync', 'withLock', 'lockAll', 'getMetrics', 'LockTimeoutError', 'LockHandle', 'LockOptions', 'LockMetrics']) {
    assert.match(declarations, new RegExp(`\\b${name}\\b`), name);
  }
});

test('without its addon, lock() fails with a clear ELOCKBACKEND error instead of silently using pid files', async (t) => {
  // A copy of the package without build/ or prebuilds/: what a user gets when install scripts were skipped.
  const dir = appDir(t);
  const copy = join(dir, 'node_modules', 'lockedfile');
  mkdirSync(copy, { recursive: true });
  cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  writeFileSync(
    join(dir, 'app.mjs'),
    `import { lock } from 'lockedfile';
     const path = ${JSON.stringify(join(dir, 'a.json'))};
     const error = await lock(path).catch((caught) => caught);
     console.log(JSON.stringify({ code: error.code, message: error.message }));
     const handle = await lock(path, { backend: 'pidfile' });
     console.log(handle.backend);
     handle.release();`,
  );
  const { code, stdout, stderr } = await run(process.execPath, ['app.mjs'], { cwd: dir });
  assert.equal(code, 0, stderr);
  const [first, second] = stdout.trim().split('\n');
  const error = JSON.parse(first);
  assert.equal(error.code, 'ELOCKBACKEND');
  assert.match(error.message, /flock addon could not be loaded/);
  assert.match(error.message, /npm rebuild lockedfile/);
  assert.match(error.message, /install script/);
  assert.match(error.message, /LOCKEDFILE_BACKEND=pidfile/);
  assert.equal(second, 'pidfile', 'an explicit choice of pid files still works');
});

const deno = findRuntime('deno');

testWhere(needs.flock, deno.missing)('on Deno without --allow-ffi, lock() fails with ELOCKBACKEND naming the permissions to give, not a rebuild', async (t) => {
  const dir = appDir(t);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'lockedfile'));
  writeFileSync(
    join(dir, 'app.mjs'),
    `import { lock } from 'lockedfile';
     const error = await lock(${JSON.stringify(join(dir, 'a.json'))}).catch((caught) => caught);
     console.log(JSON.stringify({ code: error.code, message: error.message }));`,
  );
  const { code, stdout, stderr } = await run(deno.binary, ['run', '--allow-read', '--allow-write', '--allow-env', '--allow-sys', 'app.mjs'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.equal(code, 0, stderr);
  const error = JSON.parse(stdout);
  assert.equal(error.code, 'ELOCKBACKEND');
  assert.match(error.message, /Requires ffi access/);
  assert.match(error.message, /run with --allow-read, --allow-write, --allow-ffi, --allow-env and --allow-sys/);
  assert.doesNotMatch(error.message, /npm rebuild/);
});

test('no built module declares a binding named require (setups that rewrite import.meta.url, as jest does, would hit it before it is set)', () => {
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  const modules = readdirSync(dist, { recursive: true }).filter((name) => name.endsWith('.js'));
  assert.ok(modules.length > 10);
  for (const name of modules) {
    assert.doesNotMatch(readFileSync(join(dist, name), 'utf8'), /\b(const|let|var|function)\s+require\b/, name);
  }
});

test('imports run down the layers: no module reaches sideways or back up (files -> lock -> backends -> common)', () => {
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  // What each folder may import besides node: built-ins and its own folder.
  const allowed = {
    common: [],
    backends: ['common'],
    lock: ['common', 'backends'],
    // The file stack uses the lock stack through its calls and options only.
    files: ['common', 'lock/api.ts', 'lock/options.ts'],
  };
  const modules = readdirSync(src, { recursive: true }).filter((name) => name.endsWith('.ts'));
  assert.ok(modules.length > 20);
  const checked = [];
  for (const name of modules) {
    const layer = name.split('/')[0];
    if (!(layer in allowed)) continue;
    const text = readFileSync(join(src, name), 'utf8');
    for (const [, specifier] of text.matchAll(/^(?:import|export)\b[^'"]*from '([^']+)'/gm)) {
      if (specifier.startsWith('node:')) continue;
      assert.ok(specifier.startsWith('.'), `${name} imports the package ${specifier}`);
      const target = join(dirname(name), specifier).replace(/\.js$/, '.ts');
      const ok = target.split('/')[0] === layer || allowed[layer].some((prefix) => target === prefix || target.startsWith(`${prefix}/`));
      assert.ok(ok, `${name} imports ${target}, outside what the ${layer} layer may use`);
      checked.push(target);
    }
  }
  assert.ok(checked.length > 40, `${checked.length} imports checked`);
});

test('every link from the README and CONTRIBUTING into the docs names a file and heading that exist', () => {
  // GitHub's anchors: the heading in lower case, punctuation dropped, spaces as hyphens, a
  // repeated one suffixed -1, -2, ...
  const anchors = (file) => {
    const seen = new Map();
    return new Set(
      [...readFileSync(join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '').matchAll(/^#+ (.+)$/gm)].map(([, heading]) => {
        const slug = heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
        const count = seen.get(slug) ?? 0;
        seen.set(slug, count + 1);
        return count === 0 ? slug : `${slug}-${count}`;
      }),
    );
  };
  let links = 0;
  for (const from of ['README.md', 'CONTRIBUTING.md', 'docs/api.md', 'docs/benchmark.md']) {
    const text = readFileSync(join(root, from), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [file, anchor] = target.split('#');
      const path = file === '' ? from : join(dirname(from), file);
      assert.ok(existsSync(join(root, path)), `${from} links to ${target}: no ${path}`);
      if (anchor !== undefined) assert.ok(anchors(path).has(anchor), `${from} links to ${target}: ${path} has no heading #${anchor}`);
      links += 1;
    }
  }
  assert.ok(links > 30, `${links} links checked`);
});
