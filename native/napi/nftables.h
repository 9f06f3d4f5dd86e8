// N-API glue for nf_tables (native/nft): JS values <-> nft::Value, batches and listings run
// on the namespace's threads. Registered in addon.cc.
#pragma once

#include <napi.h>

namespace nk::napi {

// nft(ns, msgs): one atomic batch on the namespace's netfilter socket. Resolves with
// { ok: true, handles } or { ok: false, errno, syscall, strerror, index, extack?, attribute? }.
Napi::Value NftBatch(const Napi::CallbackInfo& info);
// nftList(ns, query): a dump, decoded. Rejects with a NetlinkError-shaped error on a refusal.
Napi::Value NftList(const Napi::CallbackInfo& info);
// nftAnyElement(ns, queries): whether any of the sets holds an element (O(1) in their sizes).
Napi::Value NftAnyElement(const Napi::CallbackInfo& info);
Napi::Value NftGen(const Napi::CallbackInfo& info);
// nftEncode(msgs): the batch's bytes (sequence numbers and port ids 0), for golden tests.
Napi::Value NftEncode(const Napi::CallbackInfo& info);
// nftDecode(what, msg): one message decoded ('table', 'chain', 'rule', 'set', 'elements'),
// or null when malformed; for parser tests.
Napi::Value NftDecode(const Napi::CallbackInfo& info);

}  // namespace nk::napi
