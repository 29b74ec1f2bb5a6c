// Blocking flock waits, each on a thread of its own.
//
// libuv's thread pool is shared with fs, dns and crypto: a wait parked there would starve them,
// so every blocking wait gets a dedicated, detached thread. A wait can be given up at any time
// (timeout, abort); it is then *parked*: its thread stays blocked in flock() and drops the lock
// the moment the kernel grants it, unless a later request for the same lock file and kind of
// lock adopts it first. So the threads and descriptors a process spends on waiting are bounded
// by the lock files it waits on, not by the number of attempts.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <sys/types.h>
#include <uv.h>

namespace lockedfile {

// What a parked wait can be adopted for: the lock file (however its path was spelled) and the
// operation (LOCK_SH or LOCK_EX).
struct WaitKey {
  dev_t dev;
  ino_t ino;
  int op;
  bool operator==(const WaitKey& other) const { return dev == other.dev && ino == other.ino && op == other.op; }
};

struct WaitKeyHash {
  size_t operator()(const WaitKey& key) const {
    return std::hash<uint64_t>()(static_cast<uint64_t>(key.ino) * 31 + static_cast<uint64_t>(key.dev) * 7 + key.op);
  }
};

struct Mailbox;

// One wait, shared by its thread and the JS thread that started (or adopted) it. Every field
// but `fd`, `key` and `mailbox` is guarded by `mutex`.
struct Wait {
  int fd;
  WaitKey key;
  std::shared_ptr<Mailbox> mailbox;
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;       // the thread finished; `error` is valid
  bool abandoned = false;  // nobody will take the result: the thread drops the lock and closes `fd`
  bool async = false;      // report through the mailbox (else notify `finished`)
  int error = 0;           // 0 when the lock is held, else an errno
  uint32_t id = 0;
};

// One per environment (main thread or worker): where finished async waits are reported, and the
// waits given up but still blocked in flock(), one per key, for a later request to adopt.
// Outlives the environment, because wait threads may still be blocked in flock() after a worker
// thread has exited. Lock order: a Wait's mutex before this one.
struct Mailbox {
  std::mutex mutex;
  uv_async_t* async = nullptr;  // null once the environment has shut down
  std::vector<uint32_t> finished;
  std::unordered_map<WaitKey, std::shared_ptr<Wait>, WaitKeyHash> parked;
};

// Starts a thread that blocks in flock(wait->fd, wait->key.op). Returns 0 or an errno.
int StartWait(std::shared_ptr<Wait> wait);

// Gives a wait up. If the lock was already granted (or the wait failed), drops it and closes the
// descriptor here; otherwise, with `park`, leaves it for Adopt (the thread drops the lock if the
// kernel grants it first).
void Abandon(const std::shared_ptr<Wait>& wait, bool park);

// Takes the parked wait for `key` over, if one is still blocked in flock(): from now on it
// reports as `id` (async) or through `finished` (sync). Returns null if there is none.
std::shared_ptr<Wait> Adopt(Mailbox& mailbox, const WaitKey& key, bool async, uint32_t id);

// flock() retried on EINTR. Returns 0 or an errno.
int FlockRetrying(int fd, int op);

}  // namespace lockedfile
