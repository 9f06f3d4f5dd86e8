// N-API glue only: sock_diag queries and records <-> native/diag, jobs on the namespace threads.
//
//   sockDiag(ns, queries) -> Promise<{ sockets, error? }[]>   one dump per query, on the namespace's
//                                                             NETLINK_SOCK_DIAG socket (opened inside
//                                                             it on first use, then reused)
//   sockDiagEncode(query) -> Buffer                           the exact request (sequence number 0)
//   sockDiagDecode(buffer, protocol) -> record | null         one reply, for parser tests
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../diag/sock_diag.h"
#include "../nl/error.h"
#include "convert.h"
#include "handle.h"
#include "modules.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

namespace nk::napi {

namespace {

uint8_t ProtocolOf(Napi::Env env, const std::string& p) {
  if (p == "tcp") return IPPROTO_TCP;
  if (p == "udp") return IPPROTO_UDP;
  if (p == "sctp") return IPPROTO_SCTP;
  throw Napi::TypeError::New(env, "protocol must be 'tcp', 'udp' or 'sctp'");
}

Napi::Value ProtocolName(Napi::Env env, uint8_t p) {
  if (p == IPPROTO_TCP) return Napi::String::New(env, "tcp");
  if (p == IPPROTO_UDP) return Napi::String::New(env, "udp");
  if (p == IPPROTO_SCTP) return Napi::String::New(env, "sctp");
  return Napi::Number::New(env, p);
}

std::optional<uint16_t> OptPort(const Napi::Object& o, const char* key) {
  auto v = OptU32(o, key);
  if (!v) return std::nullopt;
  if (*v > 65535) throw Napi::RangeError::New(o.Env(), std::string(key) + " must be 0 to 65535");
  return static_cast<uint16_t>(*v);
}

diag::Query ToQuery(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "a sock_diag query must be an object");
  Napi::Object o = v.As<Napi::Object>();
  diag::Query q;
  uint32_t fam = OptU32(o, "family").value_or(0);
  if (fam != 4 && fam != 6) throw Napi::TypeError::New(env, "family must be 4 or 6");
  q.family = fam == 6 ? AF_INET6 : AF_INET;
  q.protocol = ProtocolOf(env, OptString(o, "protocol").value_or(""));
  q.states = OptU32(o, "states").value_or(diag::kListeningStates);
  q.port = OptPort(o, "port");
  q.portFirst = OptPort(o, "portFirst");
  q.portLast = OptPort(o, "portLast");
  try {
    (void)diag::EncodeDump(q);  // refuses inconsistent filters here, before any job runs
  } catch (const SysError& e) {
    throw Napi::TypeError::New(env, e.what());
  }
  return q;
}

Napi::Object FromSock(Napi::Env env, const diag::SockInfo& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", s.family == AF_INET6 ? 6 : 4);
  o.Set("protocol", ProtocolName(env, s.protocol));
  o.Set("state", s.state);
  o.Set("address", s.address);
  o.Set("port", s.port);
  if (!s.peer.empty()) {
    o.Set("peer", s.peer);
    o.Set("peerPort", s.peerPort);
  }
  o.Set("ifindex", s.ifindex);
  o.Set("uid", s.uid);
  o.Set("inode", s.inode);
  o.Set("cookie", Napi::BigInt::New(env, s.cookie));
  o.Set("rqueue", s.rqueue);
  o.Set("wqueue", s.wqueue);
  if (s.v6only) o.Set("v6only", *s.v6only);
  if (s.cgroupId) o.Set("cgroupId", Napi::BigInt::New(env, *s.cgroupId));
  if (!s.locals.empty()) {
    Napi::Array a = Napi::Array::New(env, s.locals.size());
    for (size_t i = 0; i < s.locals.size(); i++) a.Set(static_cast<uint32_t>(i), s.locals[i]);
    o.Set("locals", a);
  }
  return o;
}

Napi::Value SockDiag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = NsHandle::From(info[0]);
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "queries must be an array");
  Napi::Array arr = info[1].As<Napi::Array>();
  auto queries = std::make_shared<std::vector<diag::Query>>();
  for (uint32_t i = 0; i < arr.Length(); i++) queries->push_back(ToQuery(env, arr.Get(i)));
  return Runner(env).Run(env, [st, queries]() -> ToJs {
    auto results = std::make_shared<std::vector<diag::Result>>();
    {
      std::lock_guard<std::mutex> lk(st->mu);
      *results = diag::List(st->Diag(), *queries);
    }
    return [results](Napi::Env env) -> Napi::Value {
      Napi::Array out = Napi::Array::New(env, results->size());
      for (size_t i = 0; i < results->size(); i++) {
        const diag::Result& r = (*results)[i];
        Napi::Object o = Napi::Object::New(env);
        Napi::Array socks = Napi::Array::New(env, r.sockets.size());
        for (size_t k = 0; k < r.sockets.size(); k++) socks.Set(static_cast<uint32_t>(k), FromSock(env, r.sockets[k]));
        o.Set("sockets", socks);
        if (r.err) {
          Napi::Object e = Napi::Object::New(env);
          e.Set("errno", -r.err);
          e.Set("syscall", "SOCK_DIAG_BY_FAMILY");
          e.Set("strerror", std::strerror(r.err));
          if (!r.extack.empty()) e.Set("extack", r.extack);
          o.Set("error", e);
        }
        out.Set(static_cast<uint32_t>(i), o);
      }
      return out;
    };
  });
}

Napi::Value SockDiagEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  diag::Query q = ToQuery(env, info.Length() > 0 ? info[0] : env.Undefined());
  auto msg = diag::EncodeDump(q);
  return Napi::Buffer<uint8_t>::Copy(env, msg.data(), msg.size());
}

Napi::Value SockDiagDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "buffer must be a Buffer");
  uint8_t proto =
      ProtocolOf(env, info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> copy(buf.Data(), buf.Data() + buf.Length());  // aligned copy
  diag::SockInfo s;
  if (!diag::DecodeSock(copy.data(), copy.size(), proto, s)) return env.Null();
  return FromSock(env, s);
}

}  // namespace

void InitDiag(Napi::Env env, Napi::Object exports) {
  exports.Set("sockDiag", Napi::Function::New(env, SockDiag));
  exports.Set("sockDiagEncode", Napi::Function::New(env, SockDiagEncode));
  exports.Set("sockDiagDecode", Napi::Function::New(env, SockDiagDecode));
}

}  // namespace nk::napi
