// Backoff for backends that can only poll: exponential, bounded, with jitter so that many
// waiters do not retry in lockstep.
import { abortReason } from './errors.js';

/**
 * RetryOptions shape the polling of backends that cannot wait in the kernel (pidfile):
 * exponential backoff from `minDelay` to `maxDelay` ms, each delay randomised by ±`jitter`.
 */
export interface RetryOptions {
  readonly minDelay: number;
  readonly maxDelay: number;
  readonly factor: number;
  readonly jitter: number;
}

export const defaultRetry: RetryOptions = { minDelay: 5, maxDelay: 100, factor: 2, jitter: 0.5 };

/** delays yields the pauses between attempts, forever. */
export function* delays(retry: RetryOptions): Generator<number, never> {
  for (let base = retry.minDelay; ; base = Math.min(retry.maxDelay, base * retry.factor)) {
    yield Math.max(0, base * (1 + retry.jitter * (2 * Math.random() - 1)));
  }
}

/** sleep resolves after `ms`, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** sleepSync blocks the thread for `ms`. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
