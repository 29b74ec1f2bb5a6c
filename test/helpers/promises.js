// Small tools for tests that watch promises settle.

/** Tracks a promise: `state.settled` turns true once it resolves or rejects. */
export function track(promise) {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/** A signal that aborts when the test ends: waits left pending by a failing test then end too. */
export function untilTestEnds(t) {
  const controller = new AbortController();
  t.after(() => controller.abort());
  return controller.signal;
}

/** Resolves like `promise`, or rejects saying `what` did not happen within `ms`. */
export async function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
