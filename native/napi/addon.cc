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
#include "async.h"
#include "convert.h"
#include "ct.h"
#include "modules.h"
#include "handle.h"
#include "nft.h"

namespace nk::napi {

namespace {

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
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
      v = ns::SysctlRead(st->fd, rel);
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
    ns::SysctlWrite(st->fd, rel, value);
    return nullptr;
  });
}

// --- rtnetlink operations ---------------------------------------------------------------

enum class ResultKind { None, Link, Links, Addrs, Routes, Neighs };

struct Op {
  std::shared_ptr<NsState> ns;
  std::vector<std::shared_ptr<NsState>> refs;  // namespaces named by fd inside the messages
  std::vector<nl::Request> reqs;  // usually one; link.set with bridge-port flags has two
  ResultKind result = ResultKind::None;
  bool ignoreMissing = false;  // deletes that tolerate ENOENT/ENODEV/ESRCH/EADDRNOTAVAIL
  // addr.add by interface name: the index is looked up (RTM_GETLINK) in the op's namespace
  // when its group runs, so a link created earlier in the same trip can be addressed.
  std::string linkName;
  // sysctl.set: a write under /proc/sys/net in the op's namespace, in its place in the trip
  // (e.g. disable_ipv6 on a link made earlier in the trip, before a later op brings it up).
  bool sysctl = false;
  std::string sysctlKey, sysctlValue;
};

struct OpResult {
  int err = 0;
  std::string extack, syscall;
  std::vector<rtnl::LinkInfo> links;
  std::vector<rtnl::AddrInfo> addrs;
  std::vector<rtnl::RouteInfo> routes;
  std::vector<rtnl::NeighInfo> neighs;
  bool notRun = false;
};

nl::Request Req(std::vector<uint8_t> msg, const char* op, bool dump = false, bool reply = false) {
  nl::Request r;
  r.msg = std::move(msg);
  r.op = op;
  r.dump = dump;
  r.wantReply = reply;
  return r;
}

// Builds the messages of one operation description (main thread; throws TypeError).
Op BuildOp(Napi::Env env, const Napi::Object& o, bool needNs) {
  Op op;
  if (needNs) op.ns = NsHandle::From(o.Get("ns"));
  std::string kind = OptString(o, "op").value_or("");
  try {
    // Target namespaces come as handles; the op keeps them (and so their fds) alive.
    auto targetFd = [&](Napi::Value v) -> int {
      if (v.IsUndefined() || v.IsNull()) return -1;
      auto st = NsHandle::From(v);
      if (st->closed) throw Napi::TypeError::New(env, "the target namespace handle is closed");
      op.refs.push_back(st);
      return st->fd;
    };
    if (kind == "sysctl.set") {
      op.sysctl = true;
      op.sysctlKey = OptString(o, "key").value_or("");
      op.sysctlValue = OptString(o, "value").value_or("");
      op.ignoreMissing = OptBool(o, "ignoreMissing").value_or(false);  // no such key (e.g. no IPv6): done
      if (op.sysctlKey.empty() || op.sysctlKey.find("..") != std::string::npos || op.sysctlKey[0] == '/')
        throw Napi::TypeError::New(env, "sysctl.set: key must be a path under /proc/sys/net");
    } else if (kind == "link.create") {
      rtnl::LinkSpec s = ToLinkSpec(o);
      s.nsFd = targetFd(o.Get("target"));
      if (s.peer) s.peer->nsFd = targetFd(o.Get("peer").As<Napi::Object>().Get("target"));
      op.reqs.push_back(Req(rtnl::EncodeNewLink(s, true), "RTM_NEWLINK"));
    } else if (kind == "link.set") {
      rtnl::LinkSpec s = ToLinkSpec(o);
      s.nsFd = targetFd(o.Get("target"));
      bool portOnly = !s.mtu && !s.mac && !s.up && !s.master && !s.alias && s.nsFd < 0 && s.name.empty() &&
                      !s.stp && !s.vlanFiltering && !s.group;
      if (!portOnly) op.reqs.push_back(Req(rtnl::EncodeNewLink(s, false), "RTM_NEWLINK"));
      auto port = rtnl::EncodeBridgePort(s);
      if (!port.empty()) op.reqs.push_back(Req(std::move(port), "RTM_NEWLINK"));
    } else if (kind == "link.delete") {
      if (auto group = OptU32(o, "group"))  // `ip link delete group N`: every link of the group
        op.reqs.push_back(Req(rtnl::EncodeDelLinkGroup(*group), "RTM_DELLINK"));
      else
        op.reqs.push_back(Req(rtnl::EncodeDelLink(OptI32(o, "index").value_or(0), OptString(o, "name").value_or("")),
                              "RTM_DELLINK"));
      op.ignoreMissing = OptBool(o, "ignoreMissing").value_or(false);
    } else if (kind == "link.get") {
      op.reqs.push_back(Req(rtnl::EncodeGetLink(OptI32(o, "index").value_or(0), OptString(o, "name").value_or("")),
                            "RTM_GETLINK", false, true));
      op.result = ResultKind::Link;
    } else if (kind == "link.list") {
      op.reqs.push_back(Req(rtnl::EncodeDumpLinks(), "RTM_GETLINK", true));
      op.result = ResultKind::Links;
    } else if (kind == "addr.add") {
      rtnl::AddrSpec a = ToAddrSpec(o);
      if (a.index == 0) {
        op.linkName = OptString(o, "linkName").value_or("");
        if (op.linkName.empty()) throw Napi::TypeError::New(env, "addr.add needs index or linkName");
      }
      op.reqs.push_back(Req(rtnl::EncodeNewAddr(a), "RTM_NEWADDR"));
    } else if (kind == "addr.delete") {
      op.reqs.push_back(Req(rtnl::EncodeDelAddr(ToAddrSpec(o)), "RTM_DELADDR"));
      op.ignoreMissing = OptBool(o, "ignoreMissing").value_or(false);
    } else if (kind == "addr.list") {
      uint32_t fam = OptU32(o, "family").value_or(0);
      op.reqs.push_back(Req(rtnl::EncodeDumpAddrs(fam == 4 ? AF_INET : fam == 6 ? AF_INET6 : AF_UNSPEC,
                                                  OptI32(o, "index").value_or(0)),
                            "RTM_GETADDR", true));
      op.result = ResultKind::Addrs;
    } else if (kind == "route.add" || kind == "route.replace") {
      op.reqs.push_back(Req(rtnl::EncodeNewRoute(ToRouteSpec(o), kind == "route.replace"), "RTM_NEWROUTE"));
    } else if (kind == "route.delete") {
      op.reqs.push_back(Req(rtnl::EncodeDelRoute(ToRouteSpec(o)), "RTM_DELROUTE"));
      op.ignoreMissing = OptBool(o, "ignoreMissing").value_or(false);
    } else if (kind == "route.list") {
      uint32_t fam = OptU32(o, "family").value_or(0);
      op.reqs.push_back(Req(rtnl::EncodeDumpRoutes(fam == 4 ? AF_INET : fam == 6 ? AF_INET6 : AF_UNSPEC),
                            "RTM_GETROUTE", true));
      op.result = ResultKind::Routes;
    } else if (kind == "fdb.add" || kind == "fdb.append" || kind == "fdb.replace" || kind == "neigh.add" ||
               kind == "neigh.replace") {
      bool fdb = kind.rfind("fdb.", 0) == 0;
      rtnl::NeighMode mode = kind.find(".append") != std::string::npos    ? rtnl::NeighMode::Append
                             : kind.find(".replace") != std::string::npos ? rtnl::NeighMode::Replace
                                                                          : rtnl::NeighMode::Add;
      op.reqs.push_back(Req(rtnl::EncodeNewNeigh(ToNeighSpec(o, fdb ? AF_BRIDGE : AF_UNSPEC), mode), "RTM_NEWNEIGH"));
    } else if (kind == "fdb.delete" || kind == "neigh.delete") {
      bool fdb = kind == "fdb.delete";
      op.reqs.push_back(Req(rtnl::EncodeDelNeigh(ToNeighSpec(o, fdb ? AF_BRIDGE : AF_UNSPEC)), "RTM_DELNEIGH"));
      op.ignoreMissing = OptBool(o, "ignoreMissing").value_or(false);
    } else if (kind == "fdb.list" || kind == "neigh.list") {
      uint32_t fam = OptU32(o, "family").value_or(0);
      uint8_t family = kind == "fdb.list" ? AF_BRIDGE : fam == 4 ? AF_INET : fam == 6 ? AF_INET6 : AF_UNSPEC;
      op.reqs.push_back(Req(rtnl::EncodeDumpNeighs(family, OptI32(o, "index").value_or(0)), "RTM_GETNEIGH", true));
      op.result = ResultKind::Neighs;
    } else {
      throw Napi::TypeError::New(env, "unknown operation '" + kind + "'");
    }
  } catch (const SysError& e) {
    throw Napi::TypeError::New(env, e.what());
  }
  return op;
}

bool IsMissing(int err) { return err == ENOENT || err == ENODEV || err == ESRCH || err == EADDRNOTAVAIL; }

void Decode(const Op& op, const nl::Reply& r, OpResult& out) {
  for (const auto& m : r.messages) {
    switch (op.result) {
      case ResultKind::Link:
      case ResultKind::Links: {
        rtnl::LinkInfo l;
        if (rtnl::DecodeLink(m.data(), m.size(), l)) out.links.push_back(std::move(l));
        break;
      }
      case ResultKind::Addrs: {
        rtnl::AddrInfo a;
        if (rtnl::DecodeAddr(m.data(), m.size(), a)) out.addrs.push_back(std::move(a));
        break;
      }
      case ResultKind::Routes: {
        rtnl::RouteInfo ri;
        if (rtnl::DecodeRoute(m.data(), m.size(), ri) && !(ri.flags & RTM_F_CLONED)) out.routes.push_back(std::move(ri));
        break;
      }
      case ResultKind::Neighs: {
        rtnl::NeighInfo n;
        if (rtnl::DecodeNeigh(m.data(), m.size(), n)) out.neighs.push_back(std::move(n));
        break;
      }
      default: break;
    }
  }
}

Napi::Value ResultToJs(Napi::Env env, const Op& op, const OpResult& r) {
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
    case ResultKind::Link:
      if (r.links.empty()) return env.Null();
      return FromLink(env, r.links[0]);
    case ResultKind::Links: {
      Napi::Array a = Napi::Array::New(env, r.links.size());
      for (size_t i = 0; i < r.links.size(); i++) a.Set(static_cast<uint32_t>(i), FromLink(env, r.links[i]));
      return a;
    }
    case ResultKind::Addrs: {
      Napi::Array a = Napi::Array::New(env, r.addrs.size());
      for (size_t i = 0; i < r.addrs.size(); i++) a.Set(static_cast<uint32_t>(i), FromAddr(env, r.addrs[i]));
      return a;
    }
    case ResultKind::Routes: {
      Napi::Array a = Napi::Array::New(env, r.routes.size());
      for (size_t i = 0; i < r.routes.size(); i++) a.Set(static_cast<uint32_t>(i), FromRoute(env, r.routes[i]));
      return a;
    }
    case ResultKind::Neighs: {
      Napi::Array a = Napi::Array::New(env, r.neighs.size());
      for (size_t i = 0; i < r.neighs.size(); i++) a.Set(static_cast<uint32_t>(i), FromNeigh(env, r.neighs[i]));
      return a;
    }
    default: return env.Null();
  }
}

// rtnl(ops): runs every operation in one trip to a namespace thread. Consecutive operations
// on the same namespace are pipelined on its socket; after a group with a failure, the
// remaining groups are not run. Resolves with one entry per operation: the value, or
// { errno, syscall, extack } for a kernel refusal, or { notRun: true }.
Napi::Value Rtnl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "ops must be an array");
  Napi::Array arr = info[0].As<Napi::Array>();
  auto ops = std::make_shared<std::vector<Op>>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) throw Napi::TypeError::New(env, "each op must be an object");
    ops->push_back(BuildOp(env, v.As<Napi::Object>(), true));
  }
  return Runner(env).Run(env, [ops]() -> ToJs {
    auto results = std::make_shared<std::vector<OpResult>>(ops->size());
    bool failed = false;
    size_t i = 0;
    while (i < ops->size()) {
      size_t j = i + 1;
      // A group: consecutive netlink operations on one namespace (pipelined); a sysctl alone.
      if (!(*ops)[i].sysctl)
        while (j < ops->size() && (*ops)[j].ns == (*ops)[i].ns && !(*ops)[j].sysctl) j++;
      if (failed) {
        for (size_t k = i; k < j; k++) (*results)[k].notRun = true;
        i = j;
        continue;
      }
      if ((*ops)[i].sysctl) {
        Op& op = (*ops)[i];
        try {
          NsState& st = *op.ns;
          std::lock_guard<std::mutex> lk(st.mu);
          if (st.closed) throw SysError(EBADF, "netns", "the namespace handle is closed");
          ns::SysctlWrite(st.fd, op.sysctlKey, op.sysctlValue);
        } catch (const SysError& e) {
          OpResult& res = (*results)[i];
          if (e.err == ENOENT && op.ignoreMissing) {
            i = j;
            continue;
          }
          res.err = e.err;
          res.syscall = e.syscall;
          failed = true;
        }
        i = j;
        continue;
      }
      // Interfaces named instead of indexed: look them up now (they may be this trip's).
      for (size_t k = i; k < j && !failed; k++) {
        Op& op = (*ops)[k];
        if (op.linkName.empty()) continue;
        std::vector<nl::Request> get{Req(rtnl::EncodeGetLink(0, op.linkName), "RTM_GETLINK", false, true)};
        std::vector<nl::Reply> got;
        {
          NsState& st = *op.ns;
          std::lock_guard<std::mutex> lk(st.mu);
          got = st.Rtnl().Transact(get);
        }
        rtnl::LinkInfo l;
        if (got[0].err || got[0].messages.empty() ||
            !rtnl::DecodeLink(got[0].messages[0].data(), got[0].messages[0].size(), l)) {
          OpResult& res = (*results)[k];
          res.err = got[0].err ? got[0].err : ENODEV;
          res.extack = got[0].extack;
          res.syscall = "RTM_GETLINK";
          failed = true;
          break;
        }
        // ifaddrmsg.ifa_index follows family, prefixlen, flags and scope.
        uint32_t idx = static_cast<uint32_t>(l.index);
        std::memcpy(op.reqs[0].msg.data() + NLMSG_HDRLEN + 4, &idx, sizeof(idx));
        op.linkName.clear();
      }
      if (failed) {
        for (size_t k = i; k < j; k++)
          if (!(*results)[k].err) (*results)[k].notRun = true;
        i = j;
        continue;
      }
      std::vector<nl::Request> reqs;
      std::vector<size_t> owner;
      for (size_t k = i; k < j; k++)
        for (auto& r : (*ops)[k].reqs) {
          reqs.push_back(r);
          owner.push_back(k);
        }
      std::vector<nl::Reply> replies;
      {
        NsState& st = *(*ops)[i].ns;
        std::lock_guard<std::mutex> lk(st.mu);
        replies = st.Rtnl().Transact(reqs);
      }
      for (size_t q = 0; q < replies.size(); q++) {
        OpResult& res = (*results)[owner[q]];
        const Op& op = (*ops)[owner[q]];
        int err = replies[q].err;
        if (err && op.ignoreMissing && IsMissing(err)) err = 0;
        if (err && !res.err) {
          res.err = err;
          res.extack = replies[q].extack;
          res.syscall = reqs[q].op;
          failed = true;
        }
        if (!err) Decode(op, replies[q], res);
      }
      i = j;
    }
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
  Op op = BuildOp(env, info[0].As<Napi::Object>(), false);
  Napi::Array out = Napi::Array::New(env, op.reqs.size());
  for (size_t i = 0; i < op.reqs.size(); i++) {
    auto& m = op.reqs[i].msg;
    auto* h = reinterpret_cast<nlmsghdr*>(m.data());
    if (op.reqs[i].dump) h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
    else h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
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
  exports.Set("nftEncode", Napi::Function::New(env, NftEncode));
  exports.Set("nftDecode", Napi::Function::New(env, NftDecode));
  exports.Set("ctList", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return CtList(i, Runner(i.Env()), CtSocketOf(i[0])); }));
  exports.Set("ctDelete", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return CtDelete(i, Runner(i.Env()), CtSocketOf(i[0])); }));
  exports.Set("ctEncode", Napi::Function::New(env, CtEncode));
  exports.Set("ctDecode", Napi::Function::New(env, CtDecode));
  exports.Set("NsHandle", data->nsHandleCtor.Value());
  InitSocket(env, exports);
  InitFlock(env, exports);
  InitDiag(env, exports);
  InitWatch(env, exports);
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
