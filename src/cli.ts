#!/usr/bin/env node
// The lockedfile command, in the spirit of flock(1): run a command while holding the lock on a
// path, or say whether that lock is held. Shell scripts and other tools share the same locks as
// the library (with the flock backend, flock(1) and Python's fcntl.flock too).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { type BackendChoice, type LockHandle, LockTimeoutError, type LockStatus, lock, lockStatus } from './index.js';
// Not public: how messages name holders, and the descriptor that holds a flock lock, which the
// command inherits.
import { describeHolders } from './backends/holder.js';
import { lockDescriptor } from './lock/api.js';

const usage = `Usage:
  lockedfile [--shared] [--timeout MS | --nonblock] [--backend B] [--lockfile LOCK] PATH -- COMMAND [ARGS...]
  lockedfile status [--backend B] [--lockfile LOCK] PATH
  lockedfile --help | --version

Runs COMMAND while holding the lock on PATH (kept in PATH.lock), and exits with its status.
With flock the command inherits the locked descriptor (as fd 3), as under flock(1): the lock
lasts while the command runs, even if this process is killed, and is released when it ends.
A pid-file lock is this process's and ends with it. SIGINT, SIGTERM, SIGHUP and SIGQUIT are
passed on to the command (in a terminal, SIGINT and SIGQUIT reach it from the terminal and are
not sent again).

  -s, --shared       take a shared (read) lock; many may hold one at once
  -t, --timeout MS   give up after MS milliseconds (default: wait as long as it takes)
  -n, --nonblock     give up at once if the lock is held
  -b, --backend B    flock (default; not on Windows), pidfile (default on Windows), or auto;
                     every process sharing a lock must use the same backend
  -l, --lockfile LOCK  keep the lock in LOCK instead of PATH.lock (as the library's
                     opts.lockfilePath): to share a lock kept under another name

status PATH says whether the lock on PATH is free (exit 0) or held (exit 1), and by whom: on
Linux the kernel's list of holders, elsewhere the last holder the lock file records.

Exit status: the command's own; 128+N if a signal N ended it; 75 if the lock was busy
(--nonblock) or the wait timed out; 69 if the lock could not be taken (the message says why);
126 if the command could not be run, 127 if it was not found; 64 for a usage error.`;

const osSignals: Partial<Record<string, number>> = constants.signals;

/** Exit statuses (sysexits.h where one fits). */
const EXIT = { free: 0, held: 1, usage: 64, unavailable: 69, busy: 75, cannotRun: 126, notFound: 127 } as const;

class UsageError extends Error {}

type Invocation =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'status'; path: string; backend: BackendChoice | undefined; lockfilePath: string | undefined }
  | { kind: 'run'; path: string; command: string[]; shared: boolean; timeout: number | undefined; backend: BackendChoice | undefined; lockfilePath: string | undefined };

function parse(argv: string[]): Invocation {
  // Everything after the first `--` is the command's, options included.
  const split = argv.indexOf('--');
  const { values, positionals } = parseArgs({
    args: split === -1 ? argv : argv.slice(0, split),
    allowPositionals: true,
    options: {
      shared: { type: 'boolean', short: 's' },
      timeout: { type: 'string', short: 't' },
      nonblock: { type: 'boolean', short: 'n' },
      backend: { type: 'string', short: 'b' },
      lockfile: { type: 'string', short: 'l' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const backend = values.backend as BackendChoice | undefined;
  if (backend !== undefined && !['auto', 'flock', 'pidfile'].includes(backend)) {
    throw new UsageError(`--backend must be auto, flock or pidfile, got ${JSON.stringify(backend)}`);
  }
  if (values.timeout !== undefined && values.nonblock) throw new UsageError('use --timeout or --nonblock, not both');
  const lockfilePath = values.lockfile;
  if (lockfilePath === '') throw new UsageError('--lockfile needs a path');
  const timeout = values.nonblock ? 0 : values.timeout === undefined ? undefined : values.timeout.trim() === '' ? NaN : Number(values.timeout);
  if (timeout !== undefined && !(timeout >= 0)) throw new UsageError(`--timeout must be a number of milliseconds >= 0, got ${JSON.stringify(values.timeout)}`);

  if (positionals[0] === 'status' && split === -1) {
    if (positionals.length !== 2) throw new UsageError('status takes one PATH');
    if (values.shared || timeout !== undefined) throw new UsageError('status takes no option but --backend and --lockfile');
    return { kind: 'status', path: positionals[1]!, backend, lockfilePath };
  }
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'no PATH given' : `give one PATH, then -- and the command (got ${positionals.map((word) => JSON.stringify(word)).join(' ')})`);
  }
  const command = split === -1 ? [] : argv.slice(split + 1);
  if (command.length === 0) throw new UsageError(`no COMMAND given: write lockedfile ${positionals[0]} -- COMMAND`);
  return { kind: 'run', path: positionals[0]!, command, shared: values.shared ?? false, timeout, backend, lockfilePath };
}

/** An error's message without the library's own "lockedfile: " prefix, which fail() adds back. */
function reason(error: unknown): string {
  return (error as Error).message.replace(/^lockedfile: /, '');
}

/** Prints `message` to stderr and exits with `status`. */
function fail(message: string, status: number): never {
  process.stderr.write(`lockedfile: ${message}\n`);
  process.exit(status);
}

/** Takes the lock, or exits with 75 (busy, timed out) or 69 (any other failure) and the reason. */
async function take(
  path: string,
  { lockfilePath, ...options }: { shared: boolean; timeout: number | undefined; backend: BackendChoice | undefined; lockfilePath: string | undefined },
): Promise<LockHandle> {
  try {
    return await lock(path, lockfilePath === undefined ? options : { ...options, lockfilePath });
  } catch (error) {
    if (error instanceof LockTimeoutError && options.timeout === 0) {
      fail(`${path} is locked (${error.holder ? `held by ${error.holder}` : 'holder not recorded'}); not waiting (--nonblock).`, EXIT.busy);
    }
    if (error instanceof LockTimeoutError) fail(reason(error).replace('opts.timeout', '--timeout'), EXIT.busy);
    fail(reason(error), EXIT.unavailable);
  }
}

/** Runs the command while holding the lock; exits with the command's status. */
async function run({ path, command, ...options }: Extract<Invocation, { kind: 'run' }>): Promise<never> {
  const handle = await take(path, options);
  const [program, ...args] = command as [string, ...string[]];
  // Listening before the spawn: a signal arriving just after it must not kill this process (and
  // release the lock) with the command still running. Listeners run on a later tick, after
  // `child` is set.
  // In a terminal, Ctrl-C and Ctrl-\ reach the whole foreground process group, the command
  // included: passing them on as well would deliver them twice (flock(1) delivers them once).
  const fromTerminal = new Set<NodeJS.Signals>(process.stdin.isTTY ? ['SIGINT', 'SIGQUIT'] : []);
  const forward = (signal: NodeJS.Signals) => {
    if (fromTerminal.has(signal) || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    // process.kill, not child.kill: Deno reports a child sent a signal by child.kill as ended by
    // it, even when the command handles it and exits with a status of its own.
    try {
      process.kill(child.pid, signal);
    } catch (error) {
      // Gone meanwhile, or not ours to signal (a command run through sudo): nothing to pass on.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH' && code !== 'EPERM') throw error;
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(signal, forward);
  // The command inherits the locked descriptor (as fd 3), as under flock(1): if this process is
  // killed (SIGKILL, the OOM killer), the command keeps the lock until it ends.
  const fd = lockDescriptor(handle);
  const child = spawn(program, args, { stdio: fd === undefined ? 'inherit' : ['inherit', 'inherit', 'inherit', fd] });
  const status = await new Promise<number>((resolve) => {
    child.on('error', (error: NodeJS.ErrnoException) => {
      process.stderr.write(`lockedfile: cannot run ${program}: ${error.code === 'ENOENT' ? 'command not found' : error.message}\n`);
      resolve(error.code === 'ENOENT' ? EXIT.notFound : EXIT.cannotRun);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (osSignals[signal ?? ''] ?? 0)));
  });
  handle.release();
  process.exit(status);
}

/** Says whether the lock is free (0) or held (1), and by whom where it is known. */
function status({ path, backend, lockfilePath }: Extract<Invocation, { kind: 'status' }>): never {
  let found: LockStatus;
  try {
    found = lockStatus(path, lockfilePath === undefined ? { backend } : { backend, lockfilePath });
  } catch (error) {
    fail(`cannot tell whether ${path} is locked: ${reason(error)}`, EXIT.unavailable);
  }
  const holders = describeHolders(found.holders);
  if (found.state === 'free') console.log(`${path}: free${found.source === 'absent' ? ' (no lock file)' : ''}`);
  else if (found.state === 'shared') console.log(`${path}: held shared ${holders ? `by ${holders}` : '(by readers that are not recorded)'}`);
  else if (holders) console.log(`${path}: held by ${holders}`);
  else if (found.lastRecorded) console.log(`${path}: held by an unknown process (the last recorded holder is ${found.lastRecorded.description})`);
  else console.log(`${path}: held by a process that does not record itself (flock(1), Python, ...)`);
  process.exit(found.state === 'free' ? EXIT.free : EXIT.held);
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

let invocation: Invocation;
try {
  invocation = parse(process.argv.slice(2));
} catch (error) {
  const message = error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') ? (error as Error).message : String(error);
  fail(`${message.replace(/\.$/, '')}. See lockedfile --help.`, EXIT.usage);
}
if (invocation.kind === 'help') console.log(usage);
else if (invocation.kind === 'version') console.log(version());
else if (invocation.kind === 'status') status(invocation);
else await run(invocation);
