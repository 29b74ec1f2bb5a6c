// Blocking flock waits, each on a thread of its own.
//
// libuv's thread pool is shared with fs, dns and crypto: a wait parked there would starve them,
// so every blocking wait gets a dedicated, detached thread. A wait can be abandoned at any time;
// the thread then owns the descriptor and drops the lock the moment the kernel grants it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <uv.h>

namespace lockedfile {

// One pending wait, shared by its thread and the JS thread that started it.
struct Wait {
  int fd;
  int op;
  std::mutex mutex;
  std::condition_variable granted_or_failed;
  bool done = false;       // the thread finished; `error` is valid
  bool abandoned = false;  // nobody will take the result; the thread closes `fd`
  int error = 0;           // 0 when the lock is held, else an errno
  uint32_t id = 0;
  struct Mailbox* mailbox = nullptr;  // set for async waits: where to report
};

// Where finished async waits are reported. Outlives the environment that created it, because
// wait threads may still be blocked in flock() after a worker thread has exited.
struct Mailbox {
  std::mutex mutex;
  uv_async_t* async = nullptr;  // null once the environment has shut down
  std::vector<uint32_t> finished;
};

// Starts a thread that blocks in flock(wait->fd, wait->op). Returns 0 or an errno.
int StartWait(std::shared_ptr<Wait> wait, std::shared_ptr<Mailbox> mailbox);

// Marks a wait abandoned. If the lock was already granted, drops it and closes the descriptor
// here; otherwise the thread does so when flock() returns.
void Abandon(const std::shared_ptr<Wait>& wait);

// flock() retried on EINTR. Returns 0 or an errno.
int FlockRetrying(int fd, int op);

}  // namespace lockedfile
