// A worker thread that uses lockedfile on the main thread's behalf, driven by messages
// { id, op, path, opts } and answering { id, ... } (LockWorker in 22.flock.threads.test.js):
//
//   lock      awaits lock(path, opts), keeps the handle; answers { got: true } or { error }.
//   tryLock   tryLock(path, opts), keeps a handle it gets; answers { got: true/false }.
//   release   releases the handle kept for `path`; answers {}.
//   exit      process.exit(0) in the worker, which ends the worker thread (not the process).
import { parentPort } from 'node:worker_threads';
import { lock, tryLock } from 'lockedfile';

const handles = new Map();

parentPort.on('message', async ({ id, op, path, opts }) => {
  try {
    if (op === 'lock' || op === 'tryLock') {
      const handle = await (op === 'lock' ? lock : tryLock)(path, opts);
      if (handle) handles.set(path, handle);
      parentPort.postMessage({ id, got: handle !== null });
    } else if (op === 'release') {
      handles.get(path).release();
      handles.delete(path);
      parentPort.postMessage({ id });
    } else if (op === 'exit') {
      process.exit(0);
    } else {
      throw new Error(`unknown op ${op}`);
    }
  } catch (error) {
    parentPort.postMessage({ id, error: { name: error.name, code: error.code, message: error.message } });
  }
});
