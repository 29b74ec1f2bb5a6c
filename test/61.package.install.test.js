// The package as users get it: built with its prebuild for this machine, packed with `npm pack`,
// installed into an empty app with install scripts off (by npm, or by Bun under Bun), then used
// by import, require, tsc and the `lockedfile` command.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleFile, run, spawnChild } from './helpers/children.js';
import { tempDir } from './helpers/temp.js';
import { needs, testWhere } from './helpers/platform.js';
import { thisRuntime } from './helpers/runtimes.js';

const test = testWhere(needs.flock, needs.flockCommand);

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

async function ok(command, args, options) {
  const result = await run(command, args, { shell: process.platform === 'win32', ...options });
  assert.equal(result.code, 0, `${command} ${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/**
 * Packs the package the way a release does, without touching the working tree: the files the
 * tarball carries are copied to a staging folder, where `npm run prebuild` adds this machine's
 * prebuild (other tests may be loading the addon from build/ meanwhile).
 */
async function pack(dir) {
  const staging = join(dir, 'staging');
  mkdirSync(staging);
  for (const entry of ['package.json', 'binding.gyp', 'native', 'dist', 'README.md', 'docs', 'LICENSE']) cpSync(join(root, entry), join(staging, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(staging, 'node_modules'), 'dir');
  await ok(npm, ['run', 'prebuild'], { cwd: staging });
  const { stdout } = await ok(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: staging });
  const [{ filename, files }] = JSON.parse(stdout);
  return { tarball: join(dir, filename), files: files.map((file) => file.path) };
}

test('npm pack, then an install without install scripts (npm --ignore-scripts; bun add under Bun) into an empty app: flock from the prebuild, import, require, types and the CLI', { timeout: 240_000 }, async (t) => {
  const dir = tempDir(t);
  const { tarball, files } = await pack(dir);

  // The tarball carries what a user needs and nothing else.
  const top = [...new Set(files.map((file) => file.split('/')[0]))].sort();
  assert.deepEqual(top, ['LICENSE', 'README.md', 'binding.gyp', 'dist', 'docs', 'native', 'package.json', 'prebuilds']);
  assert.ok(files.includes('docs/api.md') && !files.includes('docs/benchmark.md'), 'the manual ships; the benchmark page stays in the repository');
  assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts') && files.includes('dist/cli.js'));
  assert.ok(files.some((file) => file.startsWith(`prebuilds/${process.platform}-${process.arch}/`) && file.endsWith('.node')), files.join('\n'));
  assert.ok(!files.some((file) => file.endsWith('.map')), 'no source maps without their sources');

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // Under Bun, as Bun's users install it: `bun add`, which runs no dependency's install script
  // that the app has not trusted.
  if (thisRuntime === 'bun') await ok(process.execPath, ['add', tarball], { cwd: app });
  else await ok(npm, ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app });
  const installed = join(app, 'node_modules', 'lockedfile');
  assert.equal(existsSync(join(installed, 'build')), false, 'nothing was compiled: the addon can only come from prebuilds/');

  // import and require, from the app's folder.
  const esm = await ok(process.execPath, [moduleFile("const { lock } = await import('lockedfile'); const h = await lock('a.txt'); console.log(h.backend); h.release();", app)], { cwd: app });
  assert.equal(esm.stdout.trim(), 'flock');
  const cjs = await ok(process.execPath, ['-e', "const { lockSync } = require('lockedfile'); const h = lockSync('a.txt'); console.log(h.backend); h.release();"], { cwd: app });
  assert.equal(cjs.stdout.trim(), 'flock');
  assert.doesNotMatch(cjs.stderr, /Warning/, 'require() works without a warning');

  // A TypeScript consumer in both module modes, compiled against the installed types.
  for (const file of readdirSync(join(root, 'test/fixtures/consumer'))) cpSync(join(root, 'test/fixtures/consumer', file), join(app, file));
  const tsconfig = JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8'));
  tsconfig.compilerOptions.typeRoots = [join(root, 'node_modules/@types')];
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
  await ok(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app });
  const fromEsm = JSON.parse((await ok(process.execPath, [join(app, 'out/esm.mjs')], { cwd: app })).stdout);
  assert.deepEqual(fromEsm, { module: 'esm', backend: 'flock', n: 1, refused: 'RangeError', timeoutError: 'ELOCKTIMEOUT' });
  assert.match(readFileSync(join(app, 'out/cjs.cjs'), 'utf8'), /require\("lockedfile"\)/);
  const fromCjs = JSON.parse((await ok(process.execPath, [join(app, 'out/cjs.cjs')], { cwd: app })).stdout);
  assert.deepEqual(fromCjs, { module: 'cjs', backend: 'flock', n: 1, required: 'function' });

  // The CLI holds the lock while its command runs, and exits with the command's status.
  const cli = join(app, 'node_modules/.bin/lockedfile');
  const held = spawnChild(t, cli, ['data.txt', '--', process.execPath, '-e', "console.log('running'); process.stdin.once('data', () => process.exit(7))"], { cwd: app });
  await held.next('running');
  assert.equal((await run('flock', ['-n', join(app, 'data.txt.lock'), 'true'])).code, 1, 'flock(1) sees the lock held');
  const status = await run(cli, ['status', 'data.txt'], { cwd: app });
  assert.equal(status.code, 1);
  assert.match(status.stdout, new RegExp(`held by pid ${held.pid} `));
  held.send();
  assert.deepEqual(await held.exited, { code: 7, signal: null });
  assert.equal((await run('flock', ['-n', join(app, 'data.txt.lock'), 'true'])).code, 0, 'released when the command ended');
});
