// tryLock(fd) / unlock(fd): flock(2) for the IPAM file store. Node has no flock; the kernel
// drops the lock when the process dies, so a crashed holder never wedges the others.
//
// Only the non-blocking form (LOCK_NB) is offered, called on the main thread: it never
// waits, so it is as cheap as any other syscall there, and JS retries with backoff. A
// blocking flock would have to run off the main thread, and on the addon's namespace
// threads a contended lock would hold a worker for as long as another process keeps it,
// starving every namespace operation queued behind it.
#include <sys/file.h>

#include <cerrno>
#include <cstring>

#include "modules.h"

namespace nk::napi {

namespace {

int FdArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (fd < 0) throw Napi::TypeError::New(info.Env(), "fd must be >= 0");
  return fd;
}

Napi::Error FlockError(Napi::Env env, int err) { return ToJsError(env, SysError(err, "flock")); }

// true: locked (exclusive); false: another open file description holds it.
Napi::Value TryLock(const Napi::CallbackInfo& info) {
  int fd = FdArg(info);
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Napi::Boolean::New(info.Env(), true);
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    throw FlockError(info.Env(), errno);
  }
}

Napi::Value Unlock(const Napi::CallbackInfo& info) {
  int fd = FdArg(info);
  while (::flock(fd, LOCK_UN) != 0) {
    if (errno != EINTR) throw FlockError(info.Env(), errno);
  }
  return info.Env().Undefined();
}

}  // namespace

void InitFlock(Napi::Env env, Napi::Object exports) {
  exports.Set("tryLock", Napi::Function::New(env, TryLock));
  exports.Set("unlock", Napi::Function::New(env, Unlock));
}

}  // namespace nk::napi
