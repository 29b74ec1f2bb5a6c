// The runner's side of bench/worker.js: start worker processes, send them one command at
// once, and collect their answers.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Worker is one benchmark process working on `path` with the implementation named `impl`. */
export class Worker {
  #answers = [];
  #waiting = [];

  constructor(impl, path, nodeArgs = []) {
    this.proc = spawn(process.execPath, [...nodeArgs, script, impl, path], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const answer = JSON.parse(line);
      const waiter = this.#waiting.shift();
      if (waiter) waiter(answer);
      else this.#answers.push(answer);
    });
    this.exited.then((code) => {
      if (this.#waiting.length > 0) {
        console.error(`bench: worker ${impl} exited (${code}) with a command unanswered`);
        process.exit(1);
      }
    });
  }

  send(command) {
    this.proc.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /** The next answer. */
  answer() {
    if (this.#answers.length > 0) return Promise.resolve(this.#answers.shift());
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Sends `command` and resolves with its answer. */
  ask(command) {
    this.send(command);
    return this.answer();
  }

  async kill(signal = 'SIGTERM') {
    this.proc.kill(signal);
    await this.exited;
  }
}

/** Starts `count` workers and waits until each has loaded (answers a zero-cycle command). */
export async function startWorkers(count, impl, path, nodeArgs) {
  const workers = Array.from({ length: count }, () => new Worker(impl, path, nodeArgs));
  await Promise.all(workers.map((worker) => worker.ask({ op: 'cycles', n: 0 })));
  return workers;
}

/** Sends `command` to every worker at once; resolves with the answers and the wall time in ms. */
export async function together(workers, command) {
  const started = performance.now();
  const answers = await Promise.all(workers.map((worker) => worker.ask(command)));
  return { answers, ms: performance.now() - started };
}

export async function stopWorkers(workers) {
  await Promise.all(workers.map((worker) => worker.kill()));
}
