// Runs C++ jobs on the namespace thread pool and settles JS promises on the main thread.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "../nl/error.h"
#include "../ns/thread.h"

namespace nk::napi {

// What a job produces for the main thread: a converter that builds the JS value.
using ToJs = std::function<Napi::Value(Napi::Env)>;

class AsyncRunner {
 public:
  explicit AsyncRunner(Napi::Env env, size_t threads);
  ~AsyncRunner();

  // Runs `work` on a namespace thread; resolves the returned promise with the value its
  // ToJs builds, or rejects with a NetlinkError-shaped Error if it throws.
  Napi::Promise Run(Napi::Env env, std::function<ToJs()> work);

  ns::ThreadPool& pool() { return *pool_; }

 private:
  struct Job;
  static void Stop(void* self);
  static void Settle(Napi::Env env, Napi::Function, std::nullptr_t*, Job* job);
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Job, &AsyncRunner::Settle>;

  std::unique_ptr<ns::ThreadPool> pool_;
  Tsfn tsfn_;
  size_t pending_ = 0;  // main thread only
  friend struct Job;
};

// Converts a SysError into the JS error the TypeScript layer turns into NetlinkError.
Napi::Error ToJsError(Napi::Env env, const SysError& e);

}  // namespace nk::napi
