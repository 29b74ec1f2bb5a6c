// The public surface of lockedfile: re-exports, nothing else.
export { type LockHandle, type LockSetHandle, lock, lockAll, lockSync, tryLock, tryLockSync, withLock } from './lock.js';
export type { LockOptions } from './options.js';
export type { BackendChoice } from './backends/select.js';
export type { BackendName, RetryOptions } from './backends/backend.js';
export { LockError, type LockErrorCode, LockTimeoutError } from './errors.js';
export { type DurationSummary, type LockEvent, type LockEventName, type LockMetrics, getMetrics, resetMetrics } from './observe.js';
export { type WriteOptions, writeFileAtomic } from './atomic.js';
export { type UpdateOptions, updateFile } from './update.js';
export { mergeByKey } from './merge.js';
export { type JsoncOptions, readJsonc, updateJsonc } from './update.js';
export { JsoncParseError } from './jsonc.js';
