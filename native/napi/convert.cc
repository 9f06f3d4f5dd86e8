#include "convert.h"

#include <sys/socket.h>

namespace nk::napi {

std::optional<std::string> OptString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::optional<uint32_t> OptU32(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}

std::optional<int32_t> OptI32(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}

std::optional<bool> OptBool(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return v.ToBoolean().Value();
}

namespace {
std::optional<std::vector<uint8_t>> OptMac(const Napi::Object& o, const char* key) {
  auto s = OptString(o, key);
  if (!s) return std::nullopt;
  return rtnl::ParseMac(*s);
}
}  // namespace

rtnl::LinkSpec ToLinkSpec(const Napi::Object& o) {
  rtnl::LinkSpec s;
  s.index = OptI32(o, "index").value_or(0);
  s.name = OptString(o, "name").value_or("");
  s.kind = OptString(o, "kind").value_or("");
  s.mtu = OptU32(o, "mtu");
  s.mac = OptMac(o, "mac");
  s.up = OptBool(o, "up");
  s.master = OptI32(o, "master");
  s.alias = OptString(o, "alias");
  s.stp = OptBool(o, "stp");
  s.vlanFiltering = OptBool(o, "vlanFiltering");
  s.hairpin = OptBool(o, "hairpin");
  s.isolated = OptBool(o, "isolated");
  s.link = OptI32(o, "link").value_or(0);
  s.macvlanMode = OptU32(o, "macvlanMode");
  s.group = OptU32(o, "group");
  Napi::Value xv = o.Get("vxlan");
  if (xv.IsObject()) {
    Napi::Object x = xv.As<Napi::Object>();
    rtnl::VxlanSpec v;
    v.vni = OptU32(x, "vni").value_or(0);
    if (auto a = OptString(x, "local")) v.local = rtnl::ParseIp(*a);
    if (auto a = OptString(x, "remote")) v.remote = rtnl::ParseIp(*a);
    v.port = static_cast<uint16_t>(OptU32(x, "port").value_or(4789));
    v.link = OptU32(x, "link");
    v.learning = OptBool(x, "learning").value_or(false);
    if (auto t = OptU32(x, "ttl")) v.ttl = static_cast<uint8_t>(*t);
    if (auto t = OptU32(x, "tos")) v.tos = static_cast<uint8_t>(*t);
    v.ageing = OptU32(x, "ageing");
    v.proxy = OptBool(x, "proxy");
    v.l2miss = OptBool(x, "l2miss");
    v.l3miss = OptBool(x, "l3miss");
    v.udpCsum = OptBool(x, "udpCsum");
    s.vxlan = v;
  }
  Napi::Value pv = o.Get("peer");
  if (pv.IsObject()) {
    Napi::Object p = pv.As<Napi::Object>();
    rtnl::VethPeerSpec peer;
    peer.name = OptString(p, "name").value_or("");
    peer.mtu = OptU32(p, "mtu");
    peer.mac = OptMac(p, "mac");
    s.peer = peer;
  }
  return s;
}

rtnl::AddrSpec ToAddrSpec(const Napi::Object& o) {
  rtnl::AddrSpec s;
  s.index = OptI32(o, "index").value_or(0);
  s.addr = rtnl::ParseIp(OptString(o, "address").value_or(""));
  s.prefixLen = static_cast<uint8_t>(OptU32(o, "prefixLength").value_or(s.addr.family == AF_INET ? 32 : 128));
  s.nodad = OptBool(o, "nodad").value_or(false);
  s.replace = OptBool(o, "replace").value_or(false);
  return s;
}

rtnl::RouteSpec ToRouteSpec(const Napi::Object& o) {
  rtnl::RouteSpec s;
  s.family = static_cast<uint8_t>(OptU32(o, "family").value_or(0) == 6 ? AF_INET6 : AF_INET);
  if (auto d = OptString(o, "dst")) s.dst = rtnl::ParseIp(*d);
  s.dstLen = static_cast<uint8_t>(OptU32(o, "dstLength").value_or(0));
  if (auto g = OptString(o, "gateway")) s.gateway = rtnl::ParseIp(*g);
  s.oif = OptI32(o, "oif").value_or(0);
  s.metric = OptU32(o, "metric");
  s.table = OptU32(o, "table").value_or(254);
  if (auto p = OptString(o, "prefsrc")) s.prefsrc = rtnl::ParseIp(*p);
  if (auto p = OptU32(o, "protocol")) s.protocol = static_cast<uint8_t>(*p);
  if (auto p = OptU32(o, "scope")) s.scope = static_cast<uint8_t>(*p);
  if (auto p = OptU32(o, "type")) s.type = static_cast<uint8_t>(*p);
  return s;
}

rtnl::NeighSpec ToNeighSpec(const Napi::Object& o, uint8_t family) {
  rtnl::NeighSpec s;
  s.family = family;
  s.index = OptI32(o, "index").value_or(0);
  s.state = static_cast<uint16_t>(OptU32(o, "state").value_or(0));
  s.flags = static_cast<uint8_t>(OptU32(o, "flags").value_or(0));
  s.lladdr = OptMac(o, "mac");
  if (auto d = OptString(o, "dst")) s.dst = rtnl::ParseIp(*d);
  if (family != AF_BRIDGE) {
    if (s.dst)
      s.family = s.dst->family;
    else
      s.family = OptU32(o, "family").value_or(4) == 6 ? AF_INET6 : AF_INET;
  }
  if (auto v = OptU32(o, "vlan")) s.vlan = static_cast<uint16_t>(*v);
  if (auto v = OptU32(o, "port")) s.port = static_cast<uint16_t>(*v);
  s.vni = OptU32(o, "vni");
  s.via = OptU32(o, "via");
  return s;
}

rtnl::OpSpec ToOpSpec(const Napi::Object& o) {
  rtnl::OpSpec s;
  s.kind = OptString(o, "op").value_or("");
  const std::string& k = s.kind;
  bool listing = k == "fdb.list" || k == "neigh.list";
  if (k == "link.create" || k == "link.set")
    s.link = ToLinkSpec(o);
  else if (k == "addr.add" || k == "addr.delete")
    s.addr = ToAddrSpec(o);
  else if (k == "route.add" || k == "route.replace" || k == "route.delete")
    s.route = ToRouteSpec(o);
  else if (k.rfind("fdb.", 0) == 0 && !listing)
    s.neigh = ToNeighSpec(o, AF_BRIDGE);
  else if (k.rfind("neigh.", 0) == 0 && !listing)
    s.neigh = ToNeighSpec(o, AF_UNSPEC);
  s.index = OptI32(o, "index").value_or(0);
  s.name = OptString(o, "name").value_or("");
  if (k == "link.delete") s.group = OptU32(o, "group");
  uint32_t family = OptU32(o, "family").value_or(0);
  s.family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
  s.ignoreMissing = OptBool(o, "ignoreMissing").value_or(false);
  s.linkName = OptString(o, "linkName").value_or("");
  s.sysctlKey = OptString(o, "key").value_or("");
  s.sysctlValue = OptString(o, "value").value_or("");
  return s;
}

Napi::Object FromLink(Napi::Env env, const rtnl::LinkInfo& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", l.index);
  o.Set("name", l.name);
  o.Set("kind", l.kind);
  o.Set("slaveKind", l.slaveKind);
  o.Set("mtu", l.mtu);
  o.Set("mac", rtnl::FormatMac(l.mac.data(), l.mac.size()));
  o.Set("flags", l.flags);
  o.Set("operState", l.operState);
  o.Set("master", l.master);
  o.Set("link", l.link);
  if (l.linkNetnsId) o.Set("linkNetnsId", *l.linkNetnsId);
  o.Set("alias", l.alias);
  o.Set("type", l.type);
  o.Set("group", l.group);
  if (l.stp) o.Set("stp", *l.stp);
  if (l.vlanFiltering) o.Set("vlanFiltering", *l.vlanFiltering);
  if (l.hairpin) o.Set("hairpin", *l.hairpin);
  if (l.isolated) o.Set("isolated", *l.isolated);
  if (l.macvlanMode) o.Set("macvlanMode", *l.macvlanMode);
  if (l.routeLocalnet) o.Set("routeLocalnet", *l.routeLocalnet);
  if (l.addrGenMode) o.Set("addrGenMode", *l.addrGenMode);
  if (l.vxlan) {
    const auto& v = *l.vxlan;
    Napi::Object x = Napi::Object::New(env);
    x.Set("vni", v.vni);
    if (!v.local.empty()) x.Set("local", v.local);
    if (!v.remote.empty()) x.Set("remote", v.remote);
    x.Set("port", v.port);
    x.Set("link", v.link);
    x.Set("learning", v.learning);
    x.Set("proxy", v.proxy);
    x.Set("l2miss", v.l2miss);
    x.Set("l3miss", v.l3miss);
    x.Set("udpCsum", v.udpCsum);
    x.Set("ttl", v.ttl);
    x.Set("tos", v.tos);
    x.Set("ageing", v.ageing);
    o.Set("vxlan", x);
  }
  return o;
}

Napi::Object FromAddr(Napi::Env env, const rtnl::AddrInfo& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", a.index);
  o.Set("family", a.family == AF_INET6 ? 6 : 4);
  o.Set("address", a.address);
  o.Set("prefixLength", a.prefixLen);
  o.Set("scope", a.scope);
  o.Set("flags", a.flags);
  if (!a.peer.empty()) o.Set("peer", a.peer);
  if (!a.broadcast.empty()) o.Set("broadcast", a.broadcast);
  if (!a.label.empty()) o.Set("label", a.label);
  return o;
}

Napi::Object FromRoute(Napi::Env env, const rtnl::RouteInfo& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", r.family == AF_INET6 ? 6 : 4);
  o.Set("dst", r.dst);
  o.Set("dstLength", r.dstLen);
  if (!r.gateway.empty()) o.Set("gateway", r.gateway);
  o.Set("oif", r.oif);
  if (r.metric) o.Set("metric", *r.metric);
  o.Set("table", r.table);
  if (!r.prefsrc.empty()) o.Set("prefsrc", r.prefsrc);
  o.Set("protocol", r.protocol);
  o.Set("scope", r.scope);
  o.Set("type", r.type);
  o.Set("flags", r.flags);
  return o;
}

Napi::Object FromNeigh(Napi::Env env, const rtnl::NeighInfo& n) {
  Napi::Object o = Napi::Object::New(env);
  if (n.family == AF_BRIDGE)
    o.Set("family", "bridge");
  else if (n.family == AF_INET6)
    o.Set("family", 6);
  else if (n.family == AF_INET)
    o.Set("family", 4);
  else
    o.Set("family", n.family);
  o.Set("index", n.index);
  o.Set("state", n.state);
  o.Set("flags", n.flags);
  o.Set("type", n.type);
  if (!n.lladdr.empty()) o.Set("mac", n.lladdr);
  if (!n.dst.empty()) o.Set("dst", n.dst);
  if (n.vlan) o.Set("vlan", *n.vlan);
  if (n.port) o.Set("port", *n.port);
  if (n.vni) o.Set("vni", *n.vni);
  if (n.via) o.Set("via", *n.via);
  if (n.srcVni) o.Set("srcVni", *n.srcVni);
  if (n.master) o.Set("master", *n.master);
  return o;
}

}  // namespace nk::napi
