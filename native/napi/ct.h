// N-API glue for conntrack (native/ct): JS filters and entries <-> ct::Filter / ct::Entry.
#pragma once

#include <napi.h>

#include <functional>

#include "../nl/socket.h"
#include "async.h"

namespace nk::napi {

// Runs `fn` with the ctnetlink socket of one namespace, under that namespace's lock, on a
// namespace thread (addon.cc opens the socket inside the namespace on first use).
using WithCtSocket = std::function<void(const std::function<void(nl::Socket&)>&)>;

// ctList(ns, filter): the matching entries, like `conntrack -L`.
Napi::Value CtList(const Napi::CallbackInfo& info, AsyncRunner& runner, WithCtSocket sock);
// ctDelete(ns, filter): dump, then one pipelined batch of deletes; resolves with the count.
Napi::Value CtDelete(const Napi::CallbackInfo& info, AsyncRunner& runner, WithCtSocket sock);
// ctEncode({ op: 'dump', family? } | { op: 'delete', entry: Buffer, id?: boolean }): the exact
// bytes that would be sent (sequence number 0), for golden tests. 'delete' takes a CT_NEW
// message as a dump returns it.
Napi::Value CtEncode(const Napi::CallbackInfo& info);
// ctDecode(buffer): one CT_NEW message as an entry, or null when malformed.
Napi::Value CtDecode(const Napi::CallbackInfo& info);

}  // namespace nk::napi
