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

static void RunWait(std::shared_ptr<Wait> wait, std::shared_ptr<Mailbox> mailbox) {
  int error = FlockRetrying(wait->fd, wait->op);
  std::lock_guard<std::mutex> guard(wait->mutex);
  if (wait->abandoned) {
    DropLockAndClose(wait->fd, error);
    return;
  }
  wait->done = true;
  wait->error = error;
  if (mailbox) {
    // The state mutex is held while reporting, and environment shutdown abandons every pending
    // wait under that same mutex before it clears `async`: the handle is alive here.
    std::lock_guard<std::mutex> box(mailbox->mutex);
    mailbox->finished.push_back(wait->id);
    if (mailbox->async) uv_async_send(mailbox->async);
  } else {
    wait->granted_or_failed.notify_one();
  }
}

namespace {
struct Job {
  std::shared_ptr<Wait> wait;
  std::shared_ptr<Mailbox> mailbox;
};
}  // namespace

int StartWait(std::shared_ptr<Wait> wait, std::shared_ptr<Mailbox> mailbox) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // A waiter only calls flock(): a small stack lets hundreds of waits cost little memory.
  pthread_attr_setstacksize(&attr, 64 * 1024);
  Job* job = new Job{std::move(wait), std::move(mailbox)};
  pthread_t thread;
  int error = pthread_create(&thread, &attr, [](void* arg) -> void* {
    Job* job = static_cast<Job*>(arg);
    RunWait(std::move(job->wait), std::move(job->mailbox));
    delete job;
    return nullptr;
  }, job);
  pthread_attr_destroy(&attr);
  if (error) delete job;
  return error;
}

void Abandon(const std::shared_ptr<Wait>& wait) {
  std::lock_guard<std::mutex> guard(wait->mutex);
  if (wait->abandoned) return;
  wait->abandoned = true;
  if (wait->done) DropLockAndClose(wait->fd, wait->error);
}

}  // namespace lockedfile
