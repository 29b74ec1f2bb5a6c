// 5. Crash recovery: a process holding the lock is SIGKILLed while another waits for it; how long
// until the waiter has the lock. Each implementation's runs go on at the same time as the others'
// (on their own files), so the peers' multi-second stale periods are waited out only once per run.
import { setTimeout as delay } from 'node:timers/promises';
import { median } from '../measure.js';
import { Worker } from '../workers.js';

export const about = { name: 'crash', title: 'Crash recovery: holder SIGKILLed, time until a waiter has the lock', unit: 'ms', better: 'lower' };

async function recovery(impl, path) {
  const holder = new Worker(impl.name, path);
  const waiter = new Worker(impl.name, path);
  await holder.ask({ op: 'hold' });
  await waiter.ask({ op: 'acquire' }); // "waiting"
  await delay(100); // well inside its wait (blocked, or polling)
  const killed = Number(process.hrtime.bigint()) / 1e6;
  const acquired = waiter.answer();
  await holder.kill('SIGKILL');
  const { at } = await acquired;
  await waiter.kill('SIGKILL');
  return at - killed;
}

export async function run({ impls, fileFor, quick, progress }) {
  const runs = quick ? 3 : 7;
  const samples = new Map(impls.map((impl) => [impl.name, []]));
  for (let i = 0; i < runs; i++) {
    progress(`run ${i + 1} of ${runs}, all implementations at once`);
    await Promise.all(impls.map(async (impl) => samples.get(impl.name).push(await recovery(impl, fileFor(`${impl.name} crash ${i}`)))));
  }
  return {
    ...about,
    note: `Median of ${runs} runs; the holder had held the lock ~100 ms. Settings as given per implementation.`,
    results: impls.map((impl) => ({ impl: impl.name, value: median(samples.get(impl.name)), runs: samples.get(impl.name), setting: impl.setting })),
  };
}
