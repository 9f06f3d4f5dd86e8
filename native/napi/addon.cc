// N-API glue only: JS values <-> C++ structs, promises, threads-to-JS.
#include <napi.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <cstring>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../nl/attr.h"
#include "../nl/error.h"
#include "../nl/socket.h"
#include "../ns/netns.h"
#include "../ns/thread.h"
#include "../rtnl/addr.h"
#include "../rtnl/link.h"
#include "../rtnl/neigh.h"
#include "../rtnl/route.h"
#include "../rtnl/trip.h"
#include "async.h"
#include "convert.h"
#include "ct.h"
#include "modules.h"
#include "handle.h"
#include "nftables.h"

namespace nk::napi {

namespace {

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// --- namespaces -----------------------------------------------------------------------

Napi::Value CreateNamespace(const Napi::CallbackInfo& info) {
  std::string dir = ArgString(info, 0, "dir");
  std::string name = ArgString(info, 1, "name");
  bool loopback = info.Length() > 2 && info[2].ToBoolean().Value();
  return Runner(info.Env()).Run(info.Env(), [dir, name, loopback]() -> ToJs {
    auto st = std::make_shared<NsState>();
    st->fd = ns::CreateNamed(dir, name, &st->id);
    if (loopback) {
      try {
        std::lock_guard<std::mutex> lk(st->mu);
        rtnl::LinkSpec lo;
        lo.name = "lo";
        lo.up = true;
        std::vector<nl::Request> reqs(1);
        reqs[0].msg = rtnl::EncodeNewLink(lo, false);
        reqs[0].op = "RTM_NEWLINK";
        auto replies = st->Rtnl().Transact(reqs);
        if (replies[0].err) throw SysError(replies[0].err, "RTM_NEWLINK", "lo", replies[0].extack);
      } catch (...) {
        ns::DeleteNamed(dir, name);
        throw;
      }
    }
    return [st](Napi::Env env) -> Napi::Value { return NsHandle::Wrap(env, st); };
  });
}

Napi::Value OpenNamespace(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  return Runner(info.Env()).Run(info.Env(), [path]() -> ToJs {
    auto st = std::make_shared<NsState>();
    st->fd = ns::OpenNetns(path, &st->id);
    return [st](Napi::Env env) -> Napi::Value { return NsHandle::Wrap(env, st); };
  });
}

Napi::Value DeleteNamespace(const Napi::CallbackInfo& info) {
  std::string dir = ArgString(info, 0, "dir");
  std::string name = ArgString(info, 1, "name");
  return Runner(info.Env()).Run(info.Env(), [dir, name]() -> ToJs {
    bool existed = ns::DeleteNamed(dir, name);
    return [existed](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, existed); };
  });
}

Napi::Value SysctlGet(const Napi::CallbackInfo& info) {
  auto st = NsHandle::From(info[0]);
  std::string rel = ArgString(info, 1, "key");
  return Runner(info.Env()).Run(info.Env(), [st, rel]() -> ToJs {
    std::string v;
    {
      std::lock_guard<std::mutex> lk(st->mu);
      if (st->closed) throw SysError(EBADF, "netns", "the namespace handle is closed");
      v = ns::SysctlRead(st->fd, st->sysctlDirs, rel);
    }
    return [v](Napi::Env env) -> Napi::Value { return Napi::String::New(env, v); };
  });
}

Napi::Value SysctlSet(const Napi::CallbackInfo& info) {
  auto st = NsHandle::From(info[0]);
  std::string rel = ArgString(info, 1, "key");
  std::string value = ArgString(info, 2, "value");
  return Runner(info.Env()).Run(info.Env(), [st, rel, value]() -> ToJs {
    std::lock_guard<std::mutex> lk(st->mu);
    if (st->closed) throw SysError(EBADF, "netns", "the namespace handle is closed");
    ns::SysctlWrite(st->fd, st->sysctlDirs, rel, value);
    return nullptr;
  });
}

// --- rtnetlink operations (native/rtnl/trip.h runs them) ---------------------------------

// Builds one operation from its JS description (main thread; throws TypeError). Namespaces
// named inside it come as handles: the operation keeps them (and so their fds) alive.
rtnl::Op BuildOp(Napi::Env env, const Napi::Object& o, bool needNs) {
  std::shared_ptr<NsState> ns;
  if (needNs) ns = NsHandle::From(o.Get("ns"));
  std::vector<std::shared_ptr<void>> refs;
  auto targetFd = [&](Napi::Value v) -> int {
    if (v.IsUndefined() || v.IsNull()) return -1;
    auto st = NsHandle::From(v);
    if (st->closed) throw Napi::TypeError::New(env, "the target namespace handle is closed");
    refs.push_back(st);
    return st->fd;
  };
  try {
    rtnl::OpSpec spec = ToOpSpec(o);
    if (spec.kind == "link.create" || spec.kind == "link.set") {
      spec.link.nsFd = targetFd(o.Get("target"));
      if (spec.link.peer) spec.link.peer->nsFd = targetFd(o.Get("peer").As<Napi::Object>().Get("target"));
    }
    rtnl::Op op = rtnl::BuildOp(spec);
    op.ns = std::move(ns);
    op.refs = std::move(refs);
    return op;
  } catch (const SysError& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const std::invalid_argument& e) {
    throw Napi::TypeError::New(env, e.what());
  }
}

Napi::Value ResultToJs(Napi::Env env, const rtnl::Op& op, const rtnl::OpResult& r) {
  if (r.notRun) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("notRun", true);
    return o;
  }
  if (r.err) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("errno", -r.err);
    o.Set("syscall", r.syscall);
    o.Set("strerror", std::strerror(r.err));
    if (!r.extack.empty()) o.Set("extack", r.extack);
    return o;
  }
  switch (op.result) {
    case rtnl::ResultKind::Link:
      if (r.links.empty()) return env.Null();
      return FromLink(env, r.links[0]);
    case rtnl::ResultKind::Links: {
      Napi::Array a = Napi::Array::New(env, r.links.size());
      for (size_t i = 0; i < r.links.size(); i++) a.Set(static_cast<uint32_t>(i), FromLink(env, r.links[i]));
      return a;
    }
    case rtnl::ResultKind::Addrs: {
      Napi::Array a = Napi::Array::New(env, r.addrs.size());
      for (size_t i = 0; i < r.addrs.size(); i++) a.Set(static_cast<uint32_t>(i), FromAddr(env, r.addrs[i]));
      return a;
    }
    case rtnl::ResultKind::Routes: {
      Napi::Array a = Napi::Array::New(env, r.routes.size());
      for (size_t i = 0; i < r.routes.size(); i++) a.Set(static_cast<uint32_t>(i), FromRoute(env, r.routes[i]));
      return a;
    }
    case rtnl::ResultKind::Neighs: {
      Napi::Array a = Napi::Array::New(env, r.neighs.size());
      for (size_t i = 0; i < r.neighs.size(); i++) a.Set(static_cast<uint32_t>(i), FromNeigh(env, r.neighs[i]));
      return a;
    }
    case rtnl::ResultKind::Netconf: {
      Napi::Object o = Napi::Object::New(env);
      if (r.forwarding) o.Set("forwarding", *r.forwarding);
      return o;
    }
    default:
      return env.Null();
  }
}

// rtnl(ops): runs every operation in one trip to a namespace thread (rtnl::RunTrip).
// Resolves with one entry per operation: the value, or { errno, syscall, extack } for a
// kernel refusal, or { notRun: true }.
Napi::Value Rtnl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "ops must be an array");
  Napi::Array arr = info[0].As<Napi::Array>();
  auto ops = std::make_shared<std::vector<rtnl::Op>>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) throw Napi::TypeError::New(env, "each op must be an object");
    ops->push_back(BuildOp(env, v.As<Napi::Object>(), true));
  }
  return Runner(env).Run(env, [ops]() -> ToJs {
    auto results = std::make_shared<std::vector<rtnl::OpResult>>(rtnl::RunTrip(*ops));
    return [ops, results](Napi::Env env) -> Napi::Value {
      Napi::Array out = Napi::Array::New(env, ops->size());
      for (size_t k = 0; k < ops->size(); k++)
        out.Set(static_cast<uint32_t>(k), ResultToJs(env, (*ops)[k], (*results)[k]));
      return out;
    };
  });
}

// encode(ops): the exact bytes rtnl() would send (sequence number 0), for golden tests.
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "op must be an object");
  rtnl::Op op = BuildOp(env, info[0].As<Napi::Object>(), false);
  Napi::Array out = Napi::Array::New(env, op.reqs.size());
  for (size_t i = 0; i < op.reqs.size(); i++) {
    auto& m = op.reqs[i].msg;
    auto* h = reinterpret_cast<nlmsghdr*>(m.data());
    if (op.reqs[i].dump)
      h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
    else
      h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    out.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, m.data(), m.size()));
  }
  return out;
}

// decode(kind, buffer): parses one received message, for parser tests. Returns null when
// the message is malformed.
Napi::Value DecodeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = ArgString(info, 0, "kind");
  if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "buffer must be a Buffer");
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> copy(buf.Data(), buf.Data() + buf.Length());  // aligned copy
  if (kind == "link") {
    rtnl::LinkInfo l;
    if (!rtnl::DecodeLink(copy.data(), copy.size(), l)) return env.Null();
    return FromLink(env, l);
  }
  if (kind == "addr") {
    rtnl::AddrInfo a;
    if (!rtnl::DecodeAddr(copy.data(), copy.size(), a)) return env.Null();
    return FromAddr(env, a);
  }
  if (kind == "route") {
    rtnl::RouteInfo r;
    if (!rtnl::DecodeRoute(copy.data(), copy.size(), r)) return env.Null();
    return FromRoute(env, r);
  }
  if (kind == "neigh") {
    rtnl::NeighInfo n;
    if (!rtnl::DecodeNeigh(copy.data(), copy.size(), n)) return env.Null();
    return FromNeigh(env, n);
  }
  if (kind == "ack") {
    std::vector<nl::MsgView> views;
    if (!nl::SplitMessages(copy.data(), copy.size(), views) || views.size() != 1) return env.Null();
    std::string extack;
    int err = nl::ParseAck(views[0].payload, views[0].payloadLen, views[0].hdr->nlmsg_flags,
                           views[0].hdr->nlmsg_type == NLMSG_DONE, &extack);
    Napi::Object o = Napi::Object::New(env);
    o.Set("errno", -err);
    o.Set("extack", extack);
    return o;
  }
  throw Napi::TypeError::New(env, "unknown kind '" + kind + "'");
}

// threads(): how the namespace threads are doing (observability, and tests of §2).
Napi::Value Threads(const Napi::CallbackInfo& info) {
  auto s = Runner(info.Env()).pool().stats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("threads", static_cast<double>(s.threads));
  o.Set("jobs", static_cast<double>(s.jobs));
  o.Set("discarded", static_cast<double>(s.discarded));
  o.Set("homeIno", Napi::BigInt::New(info.Env(), s.homeIno));
  o.Set("callerIno", Napi::BigInt::New(info.Env(), ns::CurrentNetnsIno()));
  return o;
}

// ct*(ns, ...): conntrack (ct.cc), on the namespace's ctnetlink socket under its lock.
WithCtSocket CtSocketOf(Napi::Value v) {
  auto st = NsHandle::From(v);
  return [st](const std::function<void(nl::Socket&)>& fn) {
    std::lock_guard<std::mutex> lk(st->mu);
    fn(st->Ct());
  };
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->runner = std::make_unique<AsyncRunner>(env, 4);
  data->nsHandleCtor = Napi::Persistent(NsHandle::Init(env));
  env.SetInstanceData<AddonData>(data);
  exports.Set("createNamespace", Napi::Function::New(env, CreateNamespace));
  exports.Set("openNamespace", Napi::Function::New(env, OpenNamespace));
  exports.Set("deleteNamespace", Napi::Function::New(env, DeleteNamespace));
  exports.Set("sysctlGet", Napi::Function::New(env, SysctlGet));
  exports.Set("sysctlSet", Napi::Function::New(env, SysctlSet));
  exports.Set("rtnl", Napi::Function::New(env, Rtnl));
  exports.Set("encode", Napi::Function::New(env, Encode));
  exports.Set("decode", Napi::Function::New(env, DecodeJs));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("nft", Napi::Function::New(env, NftBatch));
  exports.Set("nftList", Napi::Function::New(env, NftList));
  exports.Set("nftAnyElement", Napi::Function::New(env, NftAnyElement));
  exports.Set("nftGen", Napi::Function::New(env, NftGen));
  exports.Set("nftEncode", Napi::Function::New(env, NftEncode));
  exports.Set("nftDecode", Napi::Function::New(env, NftDecode));
  exports.Set("ctList", Napi::Function::New(env, [](const Napi::CallbackInfo& i) {
                return CtList(i, Runner(i.Env()), CtSocketOf(i[0]));
              }));
  exports.Set("ctDelete", Napi::Function::New(env, [](const Napi::CallbackInfo& i) {
                return CtDelete(i, Runner(i.Env()), CtSocketOf(i[0]));
              }));
  exports.Set("ctEncode", Napi::Function::New(env, CtEncode));
  exports.Set("ctDecode", Napi::Function::New(env, CtDecode));
  exports.Set("NsHandle", data->nsHandleCtor.Value());
  InitSocket(env, exports);
  InitFlock(env, exports);
  InitDiag(env, exports);
  InitWatch(env, exports);
  InitUnregister(env, exports);
  return exports;
}

}  // namespace

Napi::Promise RunWithNamespace(Napi::Env env, Napi::Value nsValue, std::function<ToJs(int nsFd)> work) {
  auto st = NsHandle::From(nsValue);
  return Runner(env).Run(env, [st, work = std::move(work)]() -> ToJs {
    std::lock_guard<std::mutex> lk(st->mu);
    if (st->closed) throw SysError(EBADF, "netns", "the namespace handle is closed");
    return work(st->fd);
  });
}

}  // namespace nk::napi

static Napi::Object InitNetnsKit(Napi::Env env, Napi::Object exports) { return nk::napi::Init(env, exports); }

NODE_API_MODULE(netns_kit, InitNetnsKit)
