// Real child processes for multi-process tests: lockedfile holders (holder.js) and other
// programs (flock(1), python3), with their output collected line by line.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { removeAtExit } from './temp.js';

const holderScript = fileURLToPath(new URL('./holder.js', import.meta.url));

/**
 * Child wraps a running process: `next(event)` resolves with the next stdout line (JSON from
 * holder.js, or raw text from other programs) that matches, `exited` when the process ends.
 */
export class Child {
  #ended = false;

  constructor(proc) {
    this.proc = proc;
    this.pid = proc.pid;
    this.lines = [];
    this.waiters = [];
    this.stderr = '';
    proc.stderr?.on('data', (data) => (this.stderr += data));
    createInterface({ input: proc.stdout }).on('line', (line) => this.#push(line));
    // 'close', not 'exit': after 'exit' stdout may still hold lines not yet read.
    this.exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
    this.exited.then(() => {
      this.#ended = true;
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`child ${this.pid} exited before "${waiter.match}"; stderr: ${this.stderr}`));
    });
  }

  #push(line) {
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      message = { event: line };
    }
    const index = this.waiters.findIndex((waiter) => waiter.match === message.event);
    if (index >= 0) this.waiters.splice(index, 1)[0].resolve(message);
    else this.lines.push(message);
  }

  /** Resolves with the first message whose event (or whole line) is `match`. */
  next(match) {
    const index = this.lines.findIndex((message) => message.event === match);
    if (index >= 0) return Promise.resolve(this.lines.splice(index, 1)[0]);
    if (this.#ended) return Promise.reject(new Error(`child ${this.pid} exited before "${match}"; stderr: ${this.stderr}`));
    return new Promise((resolve, reject) => this.waiters.push({ match, resolve, reject }));
  }

  /**
   * Sends a line to the child's stdin; resolves once it is written. Await it before blocking
   * this thread (lockSync, a busy loop): Bun writes to a pipe only from its event loop.
   */
  send(line = '') {
    return new Promise((resolve) => this.proc.stdin.write(`${line}\n`, () => resolve()));
  }

  /**
   * Sends `signal` through process.kill rather than ChildProcess.kill: Deno reports a child that
   * was sent a signal that way as ended by the signal, even when it handled it and exited.
   */
  signal(signal) {
    if (this.pid === undefined || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if (error.code !== 'ESRCH') throw error; // it ended meanwhile
    }
  }

  kill(signal = 'SIGKILL') {
    this.signal(signal);
    return this.exited;
  }
}

/** spawnChild starts any program with piped stdio. Killed when the test ends if still running. */
export function spawnChild(t, command, args, options = {}) {
  const child = new Child(spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options }));
  t.after(() => {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  });
  return child;
}

/**
 * holder runs holder.js `command` with `args` in a child process of this runtime, or of the one
 * whose command is `options.runtime` (see runtimes.js).
 */
export function holder(t, command, args, { runtime = [process.execPath], ...options } = {}) {
  const [program, ...runtimeArgs] = runtime;
  return spawnChild(t, program, [...runtimeArgs, holderScript, command, JSON.stringify(args)], options);
}

/** holdLock starts a child that takes the lock on `path` and resolves once it holds it. */
export async function holdLock(t, path, opts = {}, options = {}) {
  const child = holder(t, 'hold', { path, opts }, options);
  await child.next('locked');
  return child;
}

/** releaseAndWait tells a holdLock child to release, and waits for it to exit. */
export async function releaseAndWait(child) {
  child.send('release');
  await child.next('released');
  return child.exited;
}

/** run starts a program and resolves with its exit code, signal and output once it ends. */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (data) => (stdout += data));
    proc.stderr.on('data', (data) => (stderr += data));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let moduleDir;
let moduleCount = 0;

/**
 * moduleFile writes ES module `code` to a .mjs file and returns its path, for a child to run as
 * `process.execPath file args`: a file rather than `--input-type=module -e code`, which Deno runs
 * as a script. The file goes in `dir` when given (bare imports resolve from there), otherwise in
 * a folder of this process's that any user can read (for children run as another user), with a
 * package.json: Deno resolves the npm imports of the modules it loads only inside a package.
 */
export function moduleFile(code, dir) {
  if (!dir) {
    // A bare import would be looked up in /tmp/node_modules, which any local user can plant.
    const bare = /\b(?:from|import)\s*\(?\s*['"](?!node:|\/|\.|file:)([^'"]+)['"]/.exec(code);
    if (bare) throw new Error(`moduleFile: pass a dir for code that imports "${bare[1]}" by name`);
    if (!moduleDir) {
      moduleDir = mkdtempSync(join(tmpdir(), 'lockedfile-modules-'));
      chmodSync(moduleDir, 0o755);
      writeFileSync(join(moduleDir, 'package.json'), '{ "private": true }\n', { mode: 0o644 });
      removeAtExit(moduleDir);
    }
    dir = moduleDir;
  }
  const file = join(dir, `module-${process.pid}-${++moduleCount}.mjs`);
  writeFileSync(file, code, { mode: 0o644 });
  return file;
}

/**
 * runCountingSyncs runs ES module `code` in a child under strace; it resolves with the child's
 * result and `syncs`, its fsyncs and fdatasyncs of `dir` and the files in it (-y names each
 * descriptor's file: a runtime may sync caches of its own, which do not count).
 */
export async function runCountingSyncs(code, dir) {
  const log = join(dir, 'strace.log');
  const result = await run('strace', ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', log, process.execPath, moduleFile(code)]);
  const lines = result.code === 0 ? readFileSync(log, 'utf8').split('\n') : [];
  return { ...result, syncs: lines.filter((line) => /\bf(data)?sync\(\d+<[^>]*>\) += 0/.test(line) && line.includes(`<${dir}`)).length };
}

/**
 * runNode runs a snippet of ES module code in a fresh process of this runtime, or of the command
 * `options.runtime` (cwd: the test's).
 */
export function runNode(code, { runtime = [process.execPath], ...options } = {}) {
  const [program, ...runtimeArgs] = runtime;
  return run(program, [...runtimeArgs, moduleFile(code)], options);
}
