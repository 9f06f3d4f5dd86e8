// N-API glue for nf_tables: converts JS values to nft::Value (and back) without knowing any
// nf_tables object; native/nft does the checking, encoding and decoding.
#include "nftables.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "../nft/nft.h"
#include "handle.h"

namespace nk::napi {

namespace {

constexpr int kMaxDepth = 32;

nft::Value ToValue(Napi::Value v, int depth) {
  if (depth > kMaxDepth) throw nft::InputError("msgs nest too deeply");
  if (v.IsUndefined() || v.IsNull()) return nft::Value();
  if (v.IsBoolean()) return nft::Value::Bool(v.As<Napi::Boolean>().Value());
  if (v.IsNumber()) return nft::Value::Number(v.As<Napi::Number>().DoubleValue());
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw nft::InputError("a bigint must be an unsigned 64-bit integer", true);
    return nft::Value::BigInt(x);
  }
  if (v.IsString()) return nft::Value::String(v.As<Napi::String>().Utf8Value());
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<uint8_t>>();
    return nft::Value::Bytes(b.Data(), b.Length());
  }
  if (v.IsTypedArray()) {
    auto t = v.As<Napi::TypedArray>();
    if (t.TypedArrayType() != napi_uint8_array) throw nft::InputError("byte values must be Buffers or Uint8Arrays");
    auto u = v.As<Napi::Uint8Array>();
    return nft::Value::Bytes(u.Data(), u.ByteLength());
  }
  if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    nft::Value out = nft::Value::Array();
    out.items.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) out.Push(ToValue(a.Get(i), depth + 1));
    return out;
  }
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    Napi::Array keys = o.GetPropertyNames();
    nft::Value out = nft::Value::Object();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      Napi::Value k = keys.Get(i);
      out.Set(k.ToString().Utf8Value(), ToValue(o.Get(k), depth + 1));
    }
    return out;
  }
  throw nft::InputError("unsupported value (functions and symbols cannot be sent)");
}

// The byte strings of a result (keys, data and userdata of map elements, mostly a few bytes each)
// as Buffer views into shared slabs of at most 64 KiB: one backing store per slab, not one per
// value. A dump of 10,000 elements made ~30,000 malloc'd backing stores; freeing them after a
// collection (V8's ArrayBufferSweeper, then glibc's malloc_consolidate under the next allocation)
// made the addon's following trips 10x slower (perf: ~40% of the samples). A view keeps its slab
// alive, so a slab is never larger than 64 KiB; a value over 4 KiB gets a Buffer of its own.
class BytesArena {
 public:
  BytesArena(Napi::Env env, size_t total) : env_(env), left_(total) {}

  Napi::Value Make(const std::vector<uint8_t>& b) {
    if (b.size() > kOwn) return Napi::Buffer<uint8_t>::Copy(env_, b.data(), b.size());
    if (slab_.IsEmpty() || used_ + b.size() > cap_) {
      cap_ = std::max(b.size(), std::min(left_, kSlab));
      slab_ = Napi::Buffer<uint8_t>::New(env_, cap_);
      subarray_ = slab_.Get("subarray").As<Napi::Function>();
      used_ = 0;
    }
    if (!b.empty()) std::memcpy(slab_.Data() + used_, b.data(), b.size());
    Napi::Value view = subarray_.Call(slab_, {Napi::Number::New(env_, static_cast<double>(used_)),
                                              Napi::Number::New(env_, static_cast<double>(used_ + b.size()))});
    used_ += b.size();
    left_ -= std::min(left_, b.size());
    return view;
  }

  // The bytes of the values Make() puts in slabs (the size of the first slabs).
  static size_t Shared(const nft::Value& v) {
    switch (v.kind) {
      case nft::Value::Kind::Bytes:
        return v.bytes.size() > kOwn ? 0 : v.bytes.size();
      case nft::Value::Kind::Array: {
        size_t n = 0;
        for (const auto& x : v.items) n += Shared(x);
        return n;
      }
      case nft::Value::Kind::Object: {
        size_t n = 0;
        for (const auto& [k, x] : v.fields) n += Shared(x);
        return n;
      }
      default:
        return 0;
    }
  }

 private:
  static constexpr size_t kSlab = 64 * 1024;
  static constexpr size_t kOwn = 4096;
  Napi::Env env_;
  size_t left_;
  Napi::Buffer<uint8_t> slab_;
  Napi::Function subarray_;
  size_t cap_ = 0, used_ = 0;
};

Napi::Value FromValueIn(Napi::Env env, const nft::Value& v, BytesArena& arena) {
  switch (v.kind) {
    case nft::Value::Kind::Undefined:
      return env.Undefined();
    case nft::Value::Kind::Null:
      return env.Null();
    case nft::Value::Kind::Bool:
      return Napi::Boolean::New(env, v.b);
    case nft::Value::Kind::Number:
      return Napi::Number::New(env, v.num);
    case nft::Value::Kind::BigInt:
      return Napi::BigInt::New(env, v.big);
    case nft::Value::Kind::String:
      return Napi::String::New(env, v.str);
    case nft::Value::Kind::Bytes:
      return arena.Make(v.bytes);
    case nft::Value::Kind::Array: {
      Napi::Array a = Napi::Array::New(env, v.items.size());
      for (size_t i = 0; i < v.items.size(); i++) a.Set(static_cast<uint32_t>(i), FromValueIn(env, v.items[i], arena));
      return a;
    }
    case nft::Value::Kind::Object: {
      Napi::Object o = Napi::Object::New(env);
      for (const auto& [k, x] : v.fields)
        if (!x.undefined()) o.Set(k, FromValueIn(env, x, arena));
      return o;
    }
  }
  return env.Undefined();
}

Napi::Value FromValue(Napi::Env env, const nft::Value& v) {
  BytesArena arena(env, BytesArena::Shared(v));
  return FromValueIn(env, v, arena);
}

// Bad input as Node reports it: TypeError ERR_INVALID_ARG_VALUE or RangeError ERR_OUT_OF_RANGE.
Napi::Error InputErrorToJs(Napi::Env env, const nft::InputError& e) {
  if (e.range) {
    Napi::Error err = Napi::RangeError::New(env, e.what());
    err.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
    return err;
  }
  Napi::Error err = Napi::TypeError::New(env, e.what());
  err.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
  return err;
}

template <class F>
auto Checked(Napi::Env env, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const nft::InputError& e) {
    throw InputErrorToJs(env, e);
  } catch (const std::length_error& e) {
    throw InputErrorToJs(env, nft::InputError(std::string("message too large: ") + e.what(), true));
  } catch (const SysError& e) {
    // MsgBuilder refuses an attribute or nest that nla_len cannot hold.
    if (e.err != EMSGSIZE) throw;
    throw InputErrorToJs(env, nft::InputError(std::string("message too large: ") + e.what(), true));
  }
}

// info[i]: the messages; info[i + 1]: the generation the batch is bound to (optional, a uint32).
nft::Batch EncodeArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsArray())
    throw InputErrorToJs(env, nft::InputError("msgs must be an array of nftables messages"));
  std::optional<uint32_t> genid;
  if (info.Length() > i + 1 && !info[i + 1].IsUndefined()) {
    double g = info[i + 1].IsNumber() ? info[i + 1].As<Napi::Number>().DoubleValue() : -1;
    if (!(g >= 0 && g <= UINT32_MAX && g == static_cast<uint32_t>(g)))
      throw InputErrorToJs(env, nft::InputError("genid must be a generation number (0 to 4294967295)", true));
    genid = static_cast<uint32_t>(g);
  }
  return Checked(env, [&] { return nft::EncodeBatch(ToValue(info[i], 0), genid); });
}

}  // namespace

Napi::Value NftBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = NsHandle::From(info[0]);
  auto batch = std::make_shared<nft::Batch>(EncodeArg(info, 1));
  return Runner(env).Run(env, [st, batch]() -> ToJs {
    std::vector<nl::Reply> replies;
    {
      std::lock_guard<std::mutex> lk(st->mu);
      replies = st->Nft().Batch(batch->msgs, nft::Fence());
    }
    auto outcome = std::make_shared<nft::Value>(nft::Outcome(*batch, replies));
    return [outcome](Napi::Env env) -> Napi::Value { return FromValue(env, *outcome); };
  });
}

// nftGen(ns): the ruleset's generation (NFT_MSG_GETGEN), to bind a later batch to (nft(ns, msgs, genid)).
Napi::Value NftGen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = NsHandle::From(info[0]);
  return Runner(env).Run(env, [st]() -> ToJs {
    std::vector<nl::Request> reqs(1);
    reqs[0].msg = nft::GenRequest();
    reqs[0].wantReply = true;
    reqs[0].op = "NFT_MSG_GETGEN";
    std::vector<nl::Reply> replies;
    {
      std::lock_guard<std::mutex> lk(st->mu);
      replies = st->Nft().Transact(reqs);
    }
    if (replies[0].err) throw SysError(replies[0].err, "NFT_MSG_GETGEN", "", replies[0].extack);
    std::optional<uint32_t> gen;
    for (const auto& m : replies[0].messages)
      if (!gen) gen = nft::DecodeGen(m.data(), m.size());
    if (!gen) throw SysError(EPROTO, "NFT_MSG_GETGEN", "", "no NFTA_GEN_ID in the reply");
    return [g = *gen](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, g); };
  });
}

// nftList(ns, { what: 'elements', family, table, set, keys }): the element of each key, or null
// where the set has none; the requests are pipelined in one trip.
Napi::Value GetElements(Napi::Env env, std::shared_ptr<NsState> st, std::shared_ptr<nft::ListQuery> q) {
  return Runner(env).Run(env, [st, q]() -> ToJs {
    std::vector<nl::Request> reqs(q->gets.size());
    for (size_t i = 0; i < reqs.size(); i++) {
      reqs[i].msg = q->gets[i];
      reqs[i].wantReply = true;
      reqs[i].op = nft::MsgName(q->msg);
    }
    std::vector<nl::Reply> replies;
    if (!reqs.empty()) {
      std::lock_guard<std::mutex> lk(st->mu);
      replies = st->Nft().Transact(reqs);
    }
    auto out = std::make_shared<nft::Value>(nft::Value::Array());
    for (size_t i = 0; i < replies.size(); i++) {
      if (replies[i].err == ENOENT) {
        out->Push(nft::Value::Null());
        continue;
      }
      if (replies[i].err) throw SysError(replies[i].err, reqs[i].op, q->table + " " + q->set, replies[i].extack);
      nft::Value found = nft::DecodeList(*q, replies[i].messages);
      out->Push(found.items.empty() ? nft::Value::Null() : found.items[0]);
    }
    return [out](Napi::Env env) -> Napi::Value { return FromValue(env, *out); };
  });
}

Napi::Value NftList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = NsHandle::From(info[0]);
  if (info.Length() < 2 || !info[1].IsObject())
    throw InputErrorToJs(env, nft::InputError("query must be an object: { what, family?, table?, chain?, set? }"));
  auto q = std::make_shared<nft::ListQuery>(Checked(env, [&] { return nft::EncodeList(ToValue(info[1], 0)); }));
  if (!q->gets.empty() || (q->what == nft::ListQuery::What::Elements && info[1].As<Napi::Object>().Has("keys")))
    return GetElements(env, st, q);
  return Runner(env).Run(env, [st, q]() -> ToJs {
    std::vector<nl::Request> reqs(1);
    reqs[0].msg = q->request;
    reqs[0].dump = true;
    reqs[0].op = nft::MsgName(q->msg);
    std::vector<nl::Reply> replies;
    {
      std::lock_guard<std::mutex> lk(st->mu);
      replies = st->Nft().Transact(reqs);
    }
    if (replies[0].err) {
      std::string what = q->table.empty() ? "" : q->table + (q->set.empty() ? "" : " " + q->set);
      throw SysError(replies[0].err, reqs[0].op, what, replies[0].extack);
    }
    auto out = std::make_shared<nft::Value>(nft::DecodeList(*q, replies[0].messages));
    return [out](Napi::Env env) -> Napi::Value { return FromValue(env, *out); };
  });
}

// nftAnyElement(ns, queries): whether any of the sets ({ what: 'elements', family, table, set }
// each) holds an element (a missing set or table holds none). The sets are asked in order on one
// socket of their own: an empty set's dump ends and the socket serves the next; the first
// element found cuts the dump short after one datagram, and the socket is closed with the rest
// of it (on the closer thread: see nl::CloseLater). The cost does not grow with the sets' sizes. What dropTableIfEmpty
// asks before it sends a batch the kernel would refuse (a refused batch costs the kernel's abort an RCU grace period:
// 8-15 ms on 6.18).
Napi::Value NftAnyElement(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = NsHandle::From(info[0]);
  if (info.Length() < 2 || !info[1].IsArray())
    throw InputErrorToJs(env, nft::InputError("queries must be an array of { what: 'elements', family, table, set }"));
  Napi::Array arr = info[1].As<Napi::Array>();
  auto qs = std::make_shared<std::vector<nft::ListQuery>>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    qs->push_back(Checked(env, [&] { return nft::EncodeList(ToValue(arr.Get(i), 0)); }));
    const nft::ListQuery& q = qs->back();
    if (q.what != nft::ListQuery::What::Elements || q.set.empty() || !q.gets.empty())
      throw InputErrorToJs(env,
                           nft::InputError("each query must be { what: 'elements', family, table, set } without keys"));
  }
  return Runner(env).Run(env, [st, qs]() -> ToJs {
    bool any = false;
    if (!qs->empty()) {
      std::unique_ptr<nl::Socket> sock;
      {
        std::lock_guard<std::mutex> lk(st->mu);
        sock = st->OpenFresh(NETLINK_NETFILTER);
      }
      for (const nft::ListQuery& q : *qs) {
        nl::Request req;
        req.msg = q.request;
        req.dump = true;
        req.op = nft::MsgName(q.msg);
        auto found = [&q](const std::vector<std::vector<uint8_t>>& msgs) {
          return !nft::DecodeList(q, msgs).items.empty();
        };
        int err = sock->DumpUntil(req, found, &any);
        if (err && err != ENOENT) throw SysError(err, req.op, q.table + " " + q.set, "");
        if (any) break;  // the socket holds the rest of that dump
      }
      nl::CloseLater(std::move(sock));
    }
    return [any](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, any); };
  });
}

Napi::Value NftEncode(const Napi::CallbackInfo& info) {
  nft::Batch batch = EncodeArg(info, 0);
  size_t total = 0;
  for (const auto& m : batch.msgs) total += m.size();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), total);
  size_t off = 0;
  for (const auto& m : batch.msgs) {
    std::memcpy(out.Data() + off, m.data(), m.size());
    off += m.size();
  }
  return out;
}

Napi::Value NftDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBuffer())
    throw InputErrorToJs(env, nft::InputError("nftDecode(what, buffer): what is a string, buffer a Buffer"));
  std::string what = info[0].As<Napi::String>().Utf8Value();
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> copy(buf.Data(), buf.Data() + buf.Length());  // aligned copy
  nft::Value out;
  bool ok = Checked(env, [&] { return nft::DecodeMessage(what, copy.data(), copy.size(), out); });
  return ok ? FromValue(env, out) : env.Null();
}

}  // namespace nk::napi
