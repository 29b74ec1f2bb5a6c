// The flock primitives: open a lock file, flock it (try or wait), write the holder record,
// close. The little policy kept here is what must happen inside open() itself: never block
// (O_NONBLOCK, against a planted FIFO), never follow a symlink, fall back to read-only where the
// file may not be written (flock needs no write access), accept regular files only; and the
// record write skips a file that already holds the same bytes, so that repeated locks cost one
// read. Everything else (queues, timeouts, whether to write a record, errors, metrics) lives in
// TypeScript.
//
// Calls return numbers rather than throwing, with one sign convention, Node's own: a result
// >= 0 (a descriptor, an id, a count, or 0) on success, -errno on failure. The wait callback's
// first argument follows it too: 0, or -errno.
// Descriptors handed out are tracked per environment and closed when it shuts down, so a
// worker thread that exits without releasing does not keep its locks for the whole process.
#include <napi.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "waiter.h"

namespace lockedfile {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) : env_(env) {
    KeepLoaded();
    DefineAddon(exports, {
        InstanceMethod("open", &Addon::Open),
        InstanceMethod("flock", &Addon::Flock),
        InstanceMethod("close", &Addon::Close),
        InstanceMethod("readRecord", &Addon::ReadRecord),
        InstanceMethod("writeRecord", &Addon::WriteRecord),
        InstanceMethod("wait", &Addon::StartAsyncWait),
        InstanceMethod("abandon", &Addon::AbandonAsyncWait),
        InstanceMethod("waitSync", &Addon::WaitSync),
        InstanceValue("LOCK_SH", Napi::Number::New(env, LOCK_SH)),
        InstanceValue("LOCK_EX", Napi::Number::New(env, LOCK_EX)),
        InstanceValue("LOCK_NB", Napi::Number::New(env, LOCK_NB)),
        InstanceValue("LOCK_UN", Napi::Number::New(env, LOCK_UN)),
    });
    napi_get_uv_event_loop(env, &loop_);
    async_ = new uv_async_t;
    async_->data = this;
    uv_async_init(loop_, async_, [](uv_async_t* handle) {
      static_cast<Addon*>(handle->data)->DeliverFinished();
    });
    uv_unref(reinterpret_cast<uv_handle_t*>(async_));
    mailbox_->async = async_;
    napi_add_async_cleanup_hook(env, &Addon::Shutdown, this, &cleanup_hook_);
  }

 private:
  struct Pending {
    std::shared_ptr<Wait> wait;
    Napi::FunctionReference callback;
  };

  // open(path, mode, ident: Float64Array(2), create = true) -> fd, or -errno. Writes [dev, ino]
  // into ident: the identity of the lock file, however the path was spelled. With create false
  // a missing file is -ENOENT (asking who holds a lock must not make its file).
  Napi::Value Open(const Napi::CallbackInfo& info) {
    std::string path = info[0].As<Napi::String>().Utf8Value();
    mode_t mode = info[1].As<Napi::Number>().Uint32Value();
    Napi::Float64Array ident = info[2].As<Napi::Float64Array>();
    const bool create = info.Length() < 4 || info[3].ToBoolean().Value();
    // O_NONBLOCK: a FIFO planted at the lock path must not block this thread in open(); it is
    // refused below. It changes nothing for a regular file's flock().
    const int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
    int fd = OpenRetrying(path.c_str(), O_RDWR | (create ? O_CREAT : 0) | flags, mode);
    int error = errno;
    // A lock file we may read but not write still locks (flock needs no write access), on a
    // read-only mount too.
    if (fd < 0 && (error == EACCES || error == EROFS)) {
      fd = OpenRetrying(path.c_str(), O_RDONLY | flags, 0);
      if (fd < 0 && errno != ENOENT) error = errno;
    }
    if (fd < 0) return Number(-error);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return Number(-EINVAL);
    }
    ident[0] = static_cast<double>(st.st_dev);
    ident[1] = static_cast<double>(st.st_ino);
    fds_.insert(fd);
    return Number(fd);
  }

  // flock(fd, op) -> 0 or -errno. With LOCK_NB it never blocks; without it, it blocks this thread.
  Napi::Value Flock(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (!fds_.count(fd)) return Number(-EBADF);
    return Number(-FlockRetrying(fd, info[1].As<Napi::Number>().Int32Value()));
  }

  // close(fd) -> 0 or -errno. Only descriptors this environment opened, so a stale number can
  // never close someone else's file.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (!fds_.erase(fd)) return Number(-EBADF);
    return Number(close(fd) == 0 ? 0 : -errno);
  }

  // readRecord(fd, buffer) -> bytes read from the start of the file, or -errno. Here rather than
  // through node:fs, whose descriptors are not the kernel's on every runtime (Deno).
  Napi::Value ReadRecord(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Uint8Array buffer = info[1].As<Napi::Uint8Array>();
    if (!fds_.count(fd)) return Number(-EBADF);
    ssize_t n;
    do {
      n = pread(fd, buffer.Data(), buffer.ByteLength(), 0);
    } while (n < 0 && errno == EINTR);
    return Number(n < 0 ? -errno : static_cast<double>(n));
  }

  // writeRecord(fd, bytes) -> 0 or -errno. Skips the write when the file already holds exactly
  // these bytes, which keeps a process's repeated acquisitions to one read.
  Napi::Value WriteRecord(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
    if (!fds_.count(fd)) return Number(-EBADF);
    const size_t length = bytes.ByteLength();
    char current[512];
    if (length < sizeof current) {
      ssize_t n = pread(fd, current, length + 1, 0);
      if (n == static_cast<ssize_t>(length) && memcmp(current, bytes.Data(), length) == 0) {
        return Number(0);
      }
    }
    size_t written = 0;
    while (written < length) {
      ssize_t n = pwrite(fd, bytes.Data() + written, length - written, written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Number(-errno);
      written += n;
    }
    return Number(ftruncate(fd, length) == 0 ? 0 : -errno);
  }

  // wait(fd, op, callback) -> id, or -errno. The descriptor belongs to the wait from then on:
  // callback(0, fd) hands back the one that holds the lock (another, if a parked wait on the same
  // lock file was adopted); on callback(-errno) it has been closed.
  Napi::Value StartAsyncWait(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (!fds_.count(fd)) return Number(-EBADF);
    uint32_t id = next_id_++;
    if (next_id_ == 0) next_id_ = 1;
    int error = 0;
    std::shared_ptr<Wait> wait = BeginWait(fd, info[1].As<Napi::Number>().Int32Value(), true, id, &error);
    if (!wait) return Number(-error);
    pending_.emplace(id, Pending{wait, Napi::Persistent(info[2].As<Napi::Function>())});
    // Only waits someone still awaits keep the event loop alive.
    if (pending_.size() == 1) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
    return Number(id);
  }

  // abandon(id) -> true if the wait was pending. Its callback will not be called; the wait is
  // parked for a later request to adopt, and a lock the kernel grants it meanwhile is dropped.
  Napi::Value AbandonAsyncWait(const Napi::CallbackInfo& info) {
    auto found = pending_.find(info[0].As<Napi::Number>().Uint32Value());
    if (found == pending_.end()) return Napi::Boolean::New(env_, false);
    Abandon(found->second.wait, true);
    Forget(found);
    return Napi::Boolean::New(env_, true);
  }

  // waitSync(fd, op, timeoutMs) -> the descriptor that holds the lock (another, if a parked wait
  // was adopted), or -errno (-ETIMEDOUT after timeoutMs). Blocks this thread. The descriptor
  // passed in is the wait's from the start: on failure it has been closed or parked.
  Napi::Value WaitSync(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (!fds_.count(fd)) return Number(-EBADF);
    auto timeout = std::chrono::duration<double, std::milli>(info[2].As<Napi::Number>().DoubleValue());
    int error = 0;
    std::shared_ptr<Wait> wait = BeginWait(fd, info[1].As<Napi::Number>().Int32Value(), false, 0, &error);
    if (!wait) {
      fds_.erase(fd);
      close(fd);
      return Number(-error);
    }
    std::unique_lock<std::mutex> lock(wait->mutex);
    if (!wait->finished.wait_for(lock, timeout, [&] { return wait->done; })) {
      lock.unlock();
      Abandon(wait, true);
      return Number(-ETIMEDOUT);
    }
    if (wait->error) {
      close(wait->fd);
      return Number(-wait->error);
    }
    fds_.insert(wait->fd);
    return Number(wait->fd);
  }

  // Starts a wait on `fd`, or adopts the parked one on the same lock file and operation (then
  // `fd`, which holds no lock, is closed). Either way `fd` is no longer the caller's. Null (and
  // `error`) if no thread could be started; `fd` is then still the caller's.
  std::shared_ptr<Wait> BeginWait(int fd, int op, bool async, uint32_t id, int* error) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
      *error = errno;
      return nullptr;
    }
    WaitKey key{st.st_dev, st.st_ino, op};
    std::shared_ptr<Wait> wait = Adopt(*mailbox_, key, async, id);
    if (!wait) {
      wait = std::make_shared<Wait>();
      wait->fd = fd;
      wait->key = key;
      wait->mailbox = mailbox_;
      wait->async = async;
      wait->id = id;
      *error = StartWait(wait);
      if (*error) return nullptr;
    } else {
      close(fd);
    }
    fds_.erase(fd);
    return wait;
  }

  void DeliverFinished() {
    std::vector<uint32_t> finished;
    {
      std::lock_guard<std::mutex> guard(mailbox_->mutex);
      finished.swap(mailbox_->finished);
    }
    Napi::Env env = env_;
    Napi::HandleScope scope(env);
    for (uint32_t id : finished) {
      auto found = pending_.find(id);
      if (found == pending_.end()) continue;  // abandoned after it finished
      std::shared_ptr<Wait> wait = found->second.wait;
      Napi::FunctionReference callback = std::move(found->second.callback);
      Forget(found);
      if (wait->error) {
        close(wait->fd);
      } else {
        fds_.insert(wait->fd);
      }
      callback.MakeCallback(env.Global(), {Number(-wait->error), Number(wait->fd)});
    }
  }

  void Forget(std::unordered_map<uint32_t, Pending>::iterator found) {
    pending_.erase(found);
    if (pending_.empty()) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  }

  // The environment (main thread or worker) is going away: abandon its waits (parking none),
  // close the descriptors it still holds, which drops their locks, and close the async handle.
  static void Shutdown(napi_async_cleanup_hook_handle handle, void* data) {
    Addon* self = static_cast<Addon*>(data);
    for (auto& entry : self->pending_) Abandon(entry.second.wait, false);
    self->pending_.clear();
    for (int fd : self->fds_) close(fd);
    self->fds_.clear();
    {
      std::lock_guard<std::mutex> guard(self->mailbox_->mutex);
      self->mailbox_->async = nullptr;
      self->mailbox_->parked.clear();  // nobody is left to adopt them; each ends on its own
    }
    self->async_->data = handle;
    uv_close(reinterpret_cast<uv_handle_t*>(self->async_), [](uv_handle_t* closed) {
      napi_remove_async_cleanup_hook(static_cast<napi_async_cleanup_hook_handle>(closed->data));
      delete reinterpret_cast<uv_async_t*>(closed);
    });
  }

  // Wait threads outlive the environments that start them (a worker thread may exit while its
  // given-up waits are still blocked in flock()), so this library's code must stay mapped until
  // the process ends: Node unloads an addon once the last environment using it is gone.
  static void KeepLoaded() {
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&FlockRetrying), &self) && self.dli_fname) {
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
  }

  static int OpenRetrying(const char* path, int flags, mode_t mode) {
    int fd;
    do {
      fd = open(path, flags, mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
  }

  Napi::Number Number(double value) { return Napi::Number::New(env_, value); }

  Napi::Env env_;
  uv_loop_t* loop_ = nullptr;
  uv_async_t* async_ = nullptr;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;
  std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>();
  std::unordered_map<uint32_t, Pending> pending_;
  std::unordered_set<int> fds_;
  uint32_t next_id_ = 1;
};

}  // namespace lockedfile

using lockedfile::Addon;
NODE_API_ADDON(Addon)
