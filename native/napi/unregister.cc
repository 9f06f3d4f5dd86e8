// N-API glue only: linkUnregister (native/rtnl/unregister.h).
//
//   linkUnregister(ns, { index?, name?, group?, indexes: number[] })
//     -> Promise<{ notified: boolean, missing: boolean }>
//     One RTM_DELLINK (by index or name, or by group: `ip link delete group N`) on a socket of its
//     own, resolved once every link of `indexes` was notified deleted (`notified`), else at the
//     kernel's answer. `missing`: the kernel answered ENODEV/ENOENT (nothing to delete). Other
//     refusals reject like rtnl() errors (errno, syscall 'RTM_DELLINK', extack). The namespace's
//     lock is held only while the two sockets are opened in it, so its other trips do not wait
//     behind the delete. At most 32 deletes wait for their ACK in threads of their own; beyond,
//     or without a monitor socket, the call itself waits for the ACK (`notified` false).
#include <linux/rtnetlink.h>

#include <memory>
#include <mutex>

#include "../ns/thread.h"
#include "../rtnl/link.h"
#include "../rtnl/monitor.h"
#include "../rtnl/trip.h"
#include "../rtnl/unregister.h"
#include "convert.h"
#include "handle.h"
#include "modules.h"

namespace nk::napi {

namespace {

Napi::Value LinkUnregister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = NsHandle::From(info[0]);
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "spec must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  std::optional<uint32_t> group = OptU32(o, "group");
  int32_t index = OptI32(o, "index").value_or(0);
  std::string name = OptString(o, "name").value_or("");
  if (!group && index <= 0 && name.empty()) throw Napi::TypeError::New(env, "spec needs index, name or group");
  std::vector<int32_t> indexes;
  Napi::Value iv = o.Get("indexes");
  if (!iv.IsUndefined()) {
    if (!iv.IsArray()) throw Napi::TypeError::New(env, "indexes must be an array");
    Napi::Array a = iv.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "indexes must hold numbers");
      indexes.push_back(v.As<Napi::Number>().Int32Value());
    }
  }
  nl::Request req = group ? rtnl::MakeRequest(rtnl::EncodeDelLinkGroup(*group), "RTM_DELLINK")
                          : rtnl::MakeRequest(rtnl::EncodeDelLink(index, name), "RTM_DELLINK");
  return Runner(env).Run(env, [st, req = std::move(req), indexes = std::move(indexes), group]() mutable -> ToJs {
    std::unique_ptr<nl::Socket> sock;
    int mon = -1;
    {
      std::lock_guard<std::mutex> lk(st->mu);
      if (st->closed) throw SysError(EBADF, "netns", "the namespace handle is closed");
      ns::InNetns in(st->fd);
      sock = std::make_unique<nl::Socket>(NETLINK_ROUTE);
      // Without a monitor (no fd to be had), the delete resolves at its ACK instead.
      if (!indexes.empty()) {
        try {
          // Only the deletions: the creations and changes of other links while it waits (concurrent
          // connects) are dropped by the kernel, not read and decoded here.
          mon = rtnl::OpenMonitor(rtnl::MulticastGroups(rtnl::EventGroup::Link), 1 << 20, {RTM_NEWLINK});
        } catch (const SysError&) {
          mon = -1;
        }
      }
    }
    auto out = rtnl::DeleteAndWatch(std::move(sock), mon, std::move(req), std::move(indexes), group);
    bool missing = false;
    if (!out.notified && out.reply.err) {
      int e = out.reply.err;
      if (e == ENODEV || e == ENOENT)
        missing = true;
      else
        throw SysError(e, "RTM_DELLINK", "", out.reply.extack);
    }
    bool notified = out.notified;
    return [notified, missing](Napi::Env env) -> Napi::Value {
      Napi::Object r = Napi::Object::New(env);
      r.Set("notified", notified);
      r.Set("missing", missing);
      return r;
    };
  });
}

}  // namespace

void InitUnregister(Napi::Env env, Napi::Object exports) {
  exports.Set("linkUnregister", Napi::Function::New(env, LinkUnregister));
}

}  // namespace nk::napi
