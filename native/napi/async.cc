#include "async.h"

#include <cstring>

namespace nk::napi {

struct AsyncRunner::Job {
  AsyncRunner* runner;
  Napi::Promise::Deferred deferred;
  std::function<ToJs()> work;
  ToJs result;
  std::optional<SysError> error;
  std::string unexpected;
};

AsyncRunner::AsyncRunner(Napi::Env env, size_t threads) : pool_(std::make_unique<ns::ThreadPool>(threads)) {
  tsfn_ = Tsfn::New(env, "netns-kit", 0, 1);
  tsfn_.Unref(env);
  // Cleanup hooks run last-registered first: this one stops the workers while the
  // thread-safe function (whose own hook was registered just before) is still valid.
  napi_add_env_cleanup_hook(env, &AsyncRunner::Stop, this);
}

void AsyncRunner::Stop(void* self) {
  static_cast<AsyncRunner*>(self)->pool_.reset();  // joins the workers
}

AsyncRunner::~AsyncRunner() { pool_.reset(); }

Napi::Error ToJsError(Napi::Env env, const SysError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  Napi::Object o = err.Value();
  o.Set("errno", Napi::Number::New(env, -e.err));
  o.Set("syscall", Napi::String::New(env, e.syscall));
  o.Set("detail", Napi::String::New(env, e.detail));
  o.Set("strerror", Napi::String::New(env, std::strerror(e.err)));
  if (!e.extack.empty()) o.Set("extack", Napi::String::New(env, e.extack));
  if (e.opIndex >= 0) o.Set("opIndex", Napi::Number::New(env, e.opIndex));
  o.Set("nativeError", Napi::Boolean::New(env, true));
  return err;
}

void AsyncRunner::Settle(Napi::Env env, Napi::Function, std::nullptr_t*, Job* job) {
  std::unique_ptr<Job> owned(job);
  if (env == nullptr) return;  // environment going away
  AsyncRunner* r = job->runner;
  if (--r->pending_ == 0) r->tsfn_.Unref(env);
  Napi::HandleScope scope(env);
  if (job->error) {
    job->deferred.Reject(ToJsError(env, *job->error).Value());
    return;
  }
  if (!job->unexpected.empty()) {
    job->deferred.Reject(Napi::Error::New(env, job->unexpected).Value());
    return;
  }
  try {
    job->deferred.Resolve(job->result ? job->result(env) : env.Undefined());
  } catch (const Napi::Error& e) {
    job->deferred.Reject(e.Value());
  } catch (const SysError& e) {
    job->deferred.Reject(ToJsError(env, e).Value());
  } catch (const std::exception& e) {
    job->deferred.Reject(Napi::Error::New(env, e.what()).Value());
  }
}

Napi::Promise AsyncRunner::Run(Napi::Env env, std::function<ToJs()> work) {
  auto* job = new Job{this, Napi::Promise::Deferred::New(env), std::move(work), {}, {}, {}};
  Napi::Promise promise = job->deferred.Promise();
  if (pending_++ == 0) tsfn_.Ref(env);
  Tsfn tsfn = tsfn_;
  pool_->Post([job, tsfn]() mutable {
    try {
      job->result = job->work();
    } catch (const SysError& e) {
      job->error = e;
    } catch (const std::exception& e) {
      job->unexpected = e.what();
    } catch (...) {
      job->unexpected = "unknown native error";
    }
    job->work = nullptr;  // release captures (fds, handles) on this thread
    if (tsfn.BlockingCall(job) != napi_ok) delete job;
  });
  return promise;
}

}  // namespace nk::napi
