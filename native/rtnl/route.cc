#include "route.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "../nl/attr.h"

namespace nk::rtnl {

using nl::Attr;
using nl::AttrIter;
using nl::MsgBuilder;

namespace {

void PutBody(MsgBuilder& b, const RouteSpec& s, rtmsg h) {
  h.rtm_family = s.family;
  h.rtm_dst_len = s.dst ? s.dstLen : 0;
  h.rtm_table = static_cast<uint8_t>(s.table < 256 ? s.table : static_cast<uint32_t>(RT_TABLE_UNSPEC));
  b.PutHeader(h);
  if (s.dst && s.dstLen > 0) b.Put(RTA_DST, s.dst->bytes, s.dst->size());
  if (s.gateway) b.Put(RTA_GATEWAY, s.gateway->bytes, s.gateway->size());
  if (s.oif) b.PutU32(RTA_OIF, static_cast<uint32_t>(s.oif));
  if (s.metric) b.PutU32(RTA_PRIORITY, *s.metric);
  if (s.prefsrc) b.Put(RTA_PREFSRC, s.prefsrc->bytes, s.prefsrc->size());
  b.PutU32(RTA_TABLE, s.table);
}

}  // namespace

std::vector<uint8_t> EncodeNewRoute(const RouteSpec& s, bool replace) {
  MsgBuilder b(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL));
  rtmsg h{};
  h.rtm_protocol = s.protocol;
  h.rtm_type = s.type;
  // As iproute2: a unicast route without a gateway is link-scoped.
  h.rtm_scope = s.scope
                    ? *s.scope
                    : static_cast<uint8_t>((s.gateway || s.type != RTN_UNICAST) ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  if (s.family == AF_INET6 && !s.scope) h.rtm_scope = RT_SCOPE_UNIVERSE;
  PutBody(b, s, h);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDelRoute(const RouteSpec& s) {
  MsgBuilder b(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK);
  rtmsg h{};
  h.rtm_scope = RT_SCOPE_NOWHERE;  // matches any scope, as `ip route del`
  PutBody(b, s, h);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDumpRoutes(uint8_t family) {
  MsgBuilder b(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
  rtmsg h{};
  h.rtm_family = family;
  b.PutHeader(h);
  return std::move(b).Finish();
}

bool DecodeRoute(const uint8_t* msg, size_t len, RouteInfo& out) {
  std::vector<nl::MsgView> views;
  if (!nl::SplitMessages(msg, len, views) || views.size() != 1) return false;
  const nl::MsgView& m = views[0];
  if (m.hdr->nlmsg_type != RTM_NEWROUTE) return false;
  const uint8_t* attrs;
  size_t alen;
  if (!nl::MessageAttrs(m, sizeof(rtmsg), &attrs, &alen)) return false;
  rtmsg h;
  std::memcpy(&h, m.payload, sizeof(h));
  out.family = h.rtm_family;
  out.dstLen = h.rtm_dst_len;
  out.table = h.rtm_table;
  out.protocol = h.rtm_protocol;
  out.scope = h.rtm_scope;
  out.type = h.rtm_type;
  out.flags = h.rtm_flags;
  AttrIter it(attrs, alen);
  Attr a;
  while (it.Next(a)) {
    switch (a.type) {
      case RTA_DST:
        out.dst = FormatIp(h.rtm_family, a.data, a.len);
        break;
      case RTA_GATEWAY:
        out.gateway = FormatIp(h.rtm_family, a.data, a.len);
        break;
      case RTA_OIF:
        if (auto v = a.U32()) out.oif = static_cast<int32_t>(*v);
        break;
      case RTA_PRIORITY:
        out.metric = a.U32();
        break;
      case RTA_TABLE:
        if (auto v = a.U32()) out.table = *v;
        break;
      case RTA_PREFSRC:
        out.prefsrc = FormatIp(h.rtm_family, a.data, a.len);
        break;
      default:
        break;
    }
  }
  return it.ok();
}

}  // namespace nk::rtnl
