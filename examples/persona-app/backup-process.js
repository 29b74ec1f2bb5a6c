// The process that takes backups while the personas work, as the app's backup job does.
//   node backup-process.js '{"dir": ..., "seconds": 5, "everyMs": 250}'
import { setTimeout as delay } from 'node:timers/promises';
import { backupPersonas } from './personas.js';

const { dir, seconds, everyMs } = JSON.parse(process.argv[2]);
const end = performance.now() + seconds * 1000;
let backups = 0;
while (performance.now() < end) {
  await delay(everyMs * (0.5 + Math.random()));
  await backupPersonas(dir);
  backups += 1;
}
process.send?.({ backups });
