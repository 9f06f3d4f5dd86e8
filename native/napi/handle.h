// The JS wrapper NsHandle of a namespace (native/ns/state.h NsState: the fd and the netlink
// sockets opened inside it), shared by the N-API glue files (addon.cc, nft.cc, ...).
#pragma once

#include <napi.h>
#include <linux/netlink.h>
#include <unistd.h>

#include <memory>
#include <mutex>

#include "../nl/error.h"
#include "../nl/socket.h"
#include "../ns/netns.h"
#include "../ns/state.h"
#include "../ns/thread.h"
#include "async.h"

namespace nk::napi {

// The namespace itself (fd, sockets) is plain C++: native/ns/state.h.
using ns::NsState;

struct AddonData {
  std::unique_ptr<AsyncRunner> runner;
  Napi::FunctionReference nsHandleCtor;
};

class NsHandle : public Napi::ObjectWrap<NsHandle> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NsHandle",
                       {InstanceAccessor<&NsHandle::Fd>("fd"), InstanceAccessor<&NsHandle::Ino>("ino"),
                        InstanceAccessor<&NsHandle::Dev>("dev"), InstanceMethod<&NsHandle::Close>("close")});
  }
  explicit NsHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NsHandle>(info) {}

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<NsState> st) {
    Napi::Object o = env.GetInstanceData<AddonData>()->nsHandleCtor.New({});
    Unwrap(o)->state = std::move(st);
    return o;
  }
  static std::shared_ptr<NsState> From(Napi::Value v) {
    if (!v.IsObject()) throw Napi::TypeError::New(v.Env(), "expected a namespace handle");
    Napi::Object o = v.As<Napi::Object>();
    if (!o.InstanceOf(v.Env().GetInstanceData<AddonData>()->nsHandleCtor.Value()))
      throw Napi::TypeError::New(v.Env(), "expected a namespace handle");
    auto st = Unwrap(o)->state;
    if (!st) throw Napi::TypeError::New(v.Env(), "empty namespace handle");
    return st;
  }

  std::shared_ptr<NsState> state;

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state && !state->closed ? state->fd : -1);
  }
  // The fd is closed when the last holder lets go: the JS handle (after close()) and any
  // job still using it (a veth peer being created inside it, say), so a running job never
  // sees its namespace fd closed or reused.
  Napi::Value Ino(const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(state ? state->id.ino : 0));
  }
  Napi::Value Dev(const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(state ? state->id.dev : 0));
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    auto st = state;
    if (!st) return info.Env().GetInstanceData<AddonData>()->runner->Run(info.Env(), []() -> ToJs { return nullptr; });
    Napi::Reference<Napi::Object> self = Napi::Persistent(info.This().As<Napi::Object>());
    auto selfRef = std::make_shared<Napi::Reference<Napi::Object>>(std::move(self));
    return info.Env().GetInstanceData<AddonData>()->runner->Run(info.Env(), [st, selfRef]() -> ToJs {
      {
        std::lock_guard<std::mutex> lk(st->mu);
        st->closed = true;
        st->rtnl.reset();
        st->nft.reset();
        st->ct.reset();
        st->sysctlDirs.Clear();
      }
      return [selfRef](Napi::Env env) -> Napi::Value {
        NsHandle* h = NsHandle::Unwrap(selfRef->Value());
        h->state.reset();  // the fd closes once no job holds it
        selfRef->Reset();
        return env.Undefined();
      };
    });
  }
};

inline AsyncRunner& Runner(Napi::Env env) { return *env.GetInstanceData<AddonData>()->runner; }

}  // namespace nk::napi
