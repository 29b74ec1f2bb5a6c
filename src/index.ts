// The public surface of lockedfile: re-exports, nothing else.
export { lock, lockSync, tryLock, tryLockSync, withLock } from './lock/api.js';
export { type LockSetHandle, lockAll } from './lock/all.js';
export type { LockHandle } from './lock/hold.js';
export { type LockStatus, type StatusOptions, lockStatus } from './lock/status.js';
export type { LockHolder } from './backends/holder.js';
export { type NameOptions, lockName, namedLockPath, withLockName } from './lock/names.js';
export type { LockOptions } from './lock/options.js';
export type { BackendChoice } from './backends/select.js';
export type { BackendName } from './backends/backend.js';
export type { RetryOptions } from './common/retry.js';
export { LockError, type LockErrorCode, LockTimeoutError } from './common/errors.js';
export { type DurationSummary, type LockEvent, type LockEventName, type LockMetrics, getMetrics, resetMetrics } from './lock/observe.js';
export { type WriteOptions, writeFileAtomic } from './files/atomic.js';
export { type UpdateOptions, updateFile } from './files/update.js';
export { mergeByKey } from './files/merge.js';
export { type JsoncOptions, readJsonc, updateJsonc } from './files/update.js';
export { JsoncParseError } from './files/jsonc.js';
