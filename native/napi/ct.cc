// N-API glue only: conntrack filters and entries <-> native/ct, jobs on the namespace threads.
#include "ct.h"

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "../ct/conntrack.h"
#include "../nl/error.h"
#include "convert.h"

namespace nk::napi {

namespace {

uint8_t FamilyOf(Napi::Env env, std::optional<uint32_t> f) {
  if (!f) return AF_UNSPEC;
  if (*f == 4) return AF_INET;
  if (*f == 6) return AF_INET6;
  throw Napi::RangeError::New(env, "family must be 4 or 6");
}

std::optional<uint16_t> OptPort(const Napi::Object& o, const char* key) {
  auto v = OptU32(o, key);
  if (!v) return std::nullopt;
  if (*v > 65535) throw Napi::RangeError::New(o.Env(), std::string(key) + " must be a port number");
  return static_cast<uint16_t>(*v);
}

std::optional<rtnl::IpAddr> OptIp(const Napi::Object& o, const char* key) {
  auto s = OptString(o, key);
  if (!s) return std::nullopt;
  try {
    return rtnl::ParseIp(*s);
  } catch (const SysError& e) {
    throw Napi::TypeError::New(o.Env(), std::string(key) + ": " + e.what());
  }
}

ct::Filter ToFilter(Napi::Env env, Napi::Value v) {
  ct::Filter f;
  if (v.IsUndefined() || v.IsNull()) return f;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "filter must be an object");
  Napi::Object o = v.As<Napi::Object>();
  f.family = FamilyOf(env, OptU32(o, "family"));
  if (auto p = OptU32(o, "protocol")) {
    if (*p > 255) throw Napi::RangeError::New(env, "protocol must be 0 to 255");
    f.proto = static_cast<uint8_t>(*p);
  }
  f.origSrc = OptIp(o, "origSrc");
  f.origDst = OptIp(o, "origDst");
  f.replySrc = OptIp(o, "replySrc");
  f.origDstPort = OptPort(o, "origDstPort");
  f.replySrcPort = OptPort(o, "replySrcPort");
  for (const auto* a : {&f.origSrc, &f.origDst, &f.replySrc}) {
    if (!*a) continue;
    if (f.family == AF_UNSPEC)
      f.family = (*a)->family;  // an address implies its family
    else if ((*a)->family != f.family)
      throw Napi::TypeError::New(env, "the filter mixes IPv4 and IPv6");
  }
  return f;
}

Napi::Object FromTuple(Napi::Env env, uint8_t family, const ct::Tuple& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("src", rtnl::FormatIp(family, t.src.bytes, t.src.size()));
  o.Set("dst", rtnl::FormatIp(family, t.dst.bytes, t.dst.size()));
  o.Set("protocol", t.proto);
  if (t.srcPort) o.Set("srcPort", *t.srcPort);
  if (t.dstPort) o.Set("dstPort", *t.dstPort);
  if (t.icmpId) o.Set("icmpId", *t.icmpId);
  if (t.icmpType) o.Set("icmpType", *t.icmpType);
  if (t.icmpCode) o.Set("icmpCode", *t.icmpCode);
  if (t.zone) o.Set("zone", *t.zone);
  return o;
}

Napi::Object FromEntry(Napi::Env env, const ct::Entry& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", e.family == AF_INET6 ? 6 : 4);
  o.Set("orig", FromTuple(env, e.family, e.orig));
  if (e.reply) o.Set("reply", FromTuple(env, e.family, *e.reply));
  if (e.status) o.Set("status", *e.status);
  if (e.timeout) o.Set("timeout", *e.timeout);
  if (e.mark) o.Set("mark", *e.mark);
  if (e.id) o.Set("id", *e.id);
  if (e.use) o.Set("use", *e.use);
  if (e.zone) o.Set("zone", *e.zone);
  if (e.tcpState) o.Set("tcpState", *e.tcpState);
  return o;
}

std::vector<uint8_t> BufferArg(const Napi::CallbackInfo& info, Napi::Value v, const char* what) {
  if (!v.IsBuffer()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  auto buf = v.As<Napi::Buffer<uint8_t>>();
  return std::vector<uint8_t>(buf.Data(), buf.Data() + buf.Length());  // aligned copy
}

}  // namespace

Napi::Value CtList(const Napi::CallbackInfo& info, AsyncRunner& runner, WithCtSocket sock) {
  Napi::Env env = info.Env();
  ct::Filter f = ToFilter(env, info[1]);
  return runner.Run(env, [sock, f]() -> ToJs {
    auto entries = std::make_shared<std::vector<ct::Entry>>();
    sock([&](nl::Socket& s) { *entries = ct::List(s, f); });
    return [entries](Napi::Env env) -> Napi::Value {
      Napi::Array a = Napi::Array::New(env, entries->size());
      for (size_t i = 0; i < entries->size(); i++) a.Set(static_cast<uint32_t>(i), FromEntry(env, (*entries)[i]));
      return a;
    };
  });
}

Napi::Value CtDelete(const Napi::CallbackInfo& info, AsyncRunner& runner, WithCtSocket sock) {
  Napi::Env env = info.Env();
  ct::Filter f = ToFilter(env, info[1]);
  if (!f.Selective()) throw Napi::TypeError::New(env, "a conntrack delete needs a protocol, address or port to match");
  return runner.Run(env, [sock, f]() -> ToJs {
    size_t removed = 0;
    sock([&](nl::Socket& s) { removed = ct::Delete(s, f); });
    return [removed](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(removed)); };
  });
}

Napi::Value CtEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "op must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string op = OptString(o, "op").value_or("");
  std::vector<uint8_t> msg;
  if (op == "dump") {
    msg = ct::EncodeDump(FamilyOf(env, OptU32(o, "family")));
  } else if (op == "delete") {
    std::vector<uint8_t> in = BufferArg(info, o.Get("entry"), "entry");
    ct::Entry e;
    if (!ct::DecodeEntry(in.data(), in.size(), e))
      throw Napi::TypeError::New(env, "entry is not a conntrack entry message");
    msg = ct::EncodeDelete(e, OptBool(o, "id").value_or(true));
  } else {
    throw Napi::TypeError::New(env, "unknown conntrack operation '" + op + "'");
  }
  return Napi::Buffer<uint8_t>::Copy(env, msg.data(), msg.size());
}

Napi::Value CtDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<uint8_t> in = BufferArg(info, info.Length() > 0 ? info[0] : env.Undefined(), "buffer");
  ct::Entry e;
  if (!ct::DecodeEntry(in.data(), in.size(), e)) return env.Null();
  return FromEntry(env, e);
}

}  // namespace nk::napi
