#include "waiter.h"

#include <cerrno>

#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

namespace lockedfile {

int FlockRetrying(int fd, int op) {
  while (flock(fd, op) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

static void DropLockAndClose(int fd, int error) {
  if (error == 0) FlockRetrying(fd, LOCK_UN);
  close(fd);
}

static void RunWait(std::shared_ptr<Wait> wait) {
  int error = FlockRetrying(wait->fd, wait->key.op);
  Mailbox& mailbox = *wait->mailbox;
  std::lock_guard<std::mutex> guard(wait->mutex);
  wait->done = true;
  wait->error = error;
  if (wait->abandoned) {
    DropLockAndClose(wait->fd, error);
    std::lock_guard<std::mutex> box(mailbox.mutex);
    auto found = mailbox.parked.find(wait->key);
    if (found != mailbox.parked.end() && found->second == wait) mailbox.parked.erase(found);
    return;
  }
  if (wait->async) {
    // Environment shutdown abandons every pending wait under its own mutex before it clears
    // `async`, and this wait's mutex is held here: the handle is alive.
    std::lock_guard<std::mutex> box(mailbox.mutex);
    mailbox.finished.push_back(wait->id);
    if (mailbox.async) uv_async_send(mailbox.async);
  } else {
    wait->finished.notify_all();
  }
}

int StartWait(std::shared_ptr<Wait> wait) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // A waiter only calls flock(): a small stack lets hundreds of waits cost little memory.
  pthread_attr_setstacksize(&attr, 64 * 1024);
  auto* job = new std::shared_ptr<Wait>(std::move(wait));
  pthread_t thread;
  int error = pthread_create(&thread, &attr, [](void* arg) -> void* {
    auto* job = static_cast<std::shared_ptr<Wait>*>(arg);
    RunWait(std::move(*job));
    delete job;
    return nullptr;
  }, job);
  pthread_attr_destroy(&attr);
  if (error) delete job;
  return error;
}

void Abandon(const std::shared_ptr<Wait>& wait, bool park) {
  std::lock_guard<std::mutex> guard(wait->mutex);
  if (wait->abandoned) return;
  wait->abandoned = true;
  if (wait->done) {
    DropLockAndClose(wait->fd, wait->error);
    return;
  }
  if (!park) return;
  std::lock_guard<std::mutex> box(wait->mailbox->mutex);
  // One parked wait per key is enough to adopt; another one simply ends on its own.
  wait->mailbox->parked.emplace(wait->key, wait);
}

std::shared_ptr<Wait> Adopt(Mailbox& mailbox, const WaitKey& key, bool async, uint32_t id) {
  std::shared_ptr<Wait> wait;
  {
    std::lock_guard<std::mutex> box(mailbox.mutex);
    auto found = mailbox.parked.find(key);
    if (found == mailbox.parked.end()) return nullptr;
    wait = std::move(found->second);
    mailbox.parked.erase(found);
  }
  std::lock_guard<std::mutex> guard(wait->mutex);
  // Finished while parked: its thread has dropped the lock and closed the descriptor.
  if (wait->done) return nullptr;
  wait->abandoned = false;
  wait->async = async;
  wait->id = id;
  return wait;
}

}  // namespace lockedfile
