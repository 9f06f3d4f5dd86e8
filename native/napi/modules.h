// Registration of the addon's smaller modules (each in its own file), and what they need
// from addon.cc.
#pragma once

#include <napi.h>

#include <functional>

#include "async.h"

namespace nk::napi {

// Runs `work(nsFd)` on a namespace thread with the fd of the namespace handle `ns` (an
// NsHandle from addon.cc): the fd stays open for the job, the handle must not be closed,
// and the namespace's lock is held. `work` may enter the namespace with ns::InNetns.
Napi::Promise RunWithNamespace(Napi::Env env, Napi::Value ns, std::function<ToJs(int nsFd)> work);

// socket.cc: openSocket(ns, spec) -> Promise<{ fd, port }>
void InitSocket(Napi::Env env, Napi::Object exports);
// flock.cc: tryLock(fd) -> boolean, unlock(fd)
void InitFlock(Napi::Env env, Napi::Object exports);
// diag.cc: sockDiag(ns, queries), sockDiagEncode(query), sockDiagDecode(buffer, protocol)
void InitDiag(Napi::Env env, Napi::Object exports);
// watch.cc: watchOpen(ns, { groups, receiveBuffer }) -> Promise<watcher>
void InitWatch(Napi::Env env, Napi::Object exports);
// unregister.cc: linkUnregister(ns, { index?, name?, group?, indexes }) -> Promise<{ notified, missing }>
void InitUnregister(Napi::Env env, Napi::Object exports);

}  // namespace nk::napi
