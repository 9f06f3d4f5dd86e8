// JS values <-> the plain C++ request and reply structs.
#pragma once

#include <napi.h>

#include <optional>
#include <string>

#include "../rtnl/addr.h"
#include "../rtnl/link.h"
#include "../rtnl/neigh.h"
#include "../rtnl/route.h"
#include "../rtnl/trip.h"

namespace nk::napi {

std::optional<std::string> OptString(const Napi::Object& o, const char* key);
std::optional<uint32_t> OptU32(const Napi::Object& o, const char* key);
std::optional<int32_t> OptI32(const Napi::Object& o, const char* key);
std::optional<bool> OptBool(const Napi::Object& o, const char* key);

rtnl::LinkSpec ToLinkSpec(const Napi::Object& o);
rtnl::AddrSpec ToAddrSpec(const Napi::Object& o);
rtnl::RouteSpec ToRouteSpec(const Napi::Object& o);
// family: AF_BRIDGE for FDB operations; otherwise taken from `dst` (or `family`: 4 or 6).
rtnl::NeighSpec ToNeighSpec(const Napi::Object& o, uint8_t family);

// One rtnetlink operation's JS description ({ op: 'link.create', ... }) as the trip's OpSpec
// (namespace handles inside it, `target`, are the caller's to convert).
rtnl::OpSpec ToOpSpec(const Napi::Object& o);

Napi::Object FromLink(Napi::Env env, const rtnl::LinkInfo& l);
Napi::Object FromAddr(Napi::Env env, const rtnl::AddrInfo& a);
Napi::Object FromRoute(Napi::Env env, const rtnl::RouteInfo& r);
Napi::Object FromNeigh(Napi::Env env, const rtnl::NeighInfo& n);

}  // namespace nk::napi
