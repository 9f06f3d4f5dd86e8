#include "neigh.h"

#include <linux/neighbour.h>
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

ndmsg Header(const NeighSpec& s) {
  ndmsg h{};
  h.ndm_family = s.family;
  h.ndm_ifindex = s.index;
  h.ndm_state = s.state;
  h.ndm_flags = s.flags;
  return h;
}

// Attribute order as iproute2: `bridge fdb` puts LLADDR first, then DST, VLAN, PORT, VNI,
// IFINDEX; `ip neigh` puts DST first, then LLADDR.
void PutBody(MsgBuilder& b, const NeighSpec& s) {
  b.PutHeader(Header(s));
  if (s.family == AF_BRIDGE) {
    if (s.lladdr) b.Put(NDA_LLADDR, s.lladdr->data(), s.lladdr->size());
    if (s.dst) b.Put(NDA_DST, s.dst->bytes, s.dst->size());
  } else {
    if (s.dst) b.Put(NDA_DST, s.dst->bytes, s.dst->size());
    if (s.lladdr) b.Put(NDA_LLADDR, s.lladdr->data(), s.lladdr->size());
  }
  if (s.vlan) b.PutU16(NDA_VLAN, *s.vlan);
  if (s.port) b.PutBe16(NDA_PORT, *s.port);
  if (s.vni) b.PutU32(NDA_VNI, *s.vni);
  if (s.via) b.PutU32(NDA_IFINDEX, *s.via);
}

}  // namespace

std::vector<uint8_t> EncodeNewNeigh(const NeighSpec& s, NeighMode mode) {
  uint16_t how = mode == NeighMode::Add ? NLM_F_EXCL : mode == NeighMode::Replace ? NLM_F_REPLACE : NLM_F_APPEND;
  MsgBuilder b(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | how);
  PutBody(b, s);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDelNeigh(const NeighSpec& s) {
  MsgBuilder b(RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK);
  PutBody(b, s);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDumpNeighs(uint8_t family, int32_t index) {
  MsgBuilder b(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP);
  ndmsg h{};
  h.ndm_family = family;
  if (family == AF_BRIDGE) h.ndm_ifindex = index;  // rtnl_fdb_dump: the port (or device) to dump
  b.PutHeader(h);
  if (family != AF_BRIDGE && index) b.PutU32(NDA_IFINDEX, static_cast<uint32_t>(index));
  return std::move(b).Finish();
}

bool DecodeNeigh(const uint8_t* msg, size_t len, NeighInfo& out) {
  std::vector<nl::MsgView> views;
  if (!nl::SplitMessages(msg, len, views) || views.size() != 1) return false;
  const nl::MsgView& m = views[0];
  if (m.hdr->nlmsg_type != RTM_NEWNEIGH) return false;
  const uint8_t* attrs;
  size_t alen;
  if (!nl::MessageAttrs(m, sizeof(ndmsg), &attrs, &alen)) return false;
  ndmsg h;
  std::memcpy(&h, m.payload, sizeof(h));
  out.family = h.ndm_family;
  out.index = h.ndm_ifindex;
  out.state = h.ndm_state;
  out.flags = h.ndm_flags;
  out.type = h.ndm_type;
  AttrIter it(attrs, alen);
  Attr a;
  while (it.Next(a)) {
    switch (a.type) {
      case NDA_DST:
        // FDB entries carry the remote VTEP of either family: the length tells which.
        out.dst = FormatIp(a.len == 16 ? AF_INET6 : a.len == 4 ? AF_INET : 0, a.data, a.len);
        break;
      case NDA_LLADDR:
        out.lladdr = FormatMac(a.data, a.len);
        break;
      case NDA_VLAN:
        if (auto v = a.U16()) out.vlan = *v;
        break;
      case NDA_PORT:
        if (auto v = a.Be16()) out.port = *v;
        break;
      case NDA_VNI:
        if (auto v = a.U32()) out.vni = *v;
        break;
      case NDA_IFINDEX:
        if (auto v = a.U32()) out.via = *v;
        break;
      case NDA_SRC_VNI:
        if (auto v = a.U32()) out.srcVni = *v;
        break;
      case NDA_MASTER:
        if (auto v = a.U32()) out.master = static_cast<int32_t>(*v);
        break;
      default:
        break;  // NDA_CACHEINFO, NDA_PROBES...: kept in the kernel's message, not modelled
    }
  }
  return it.ok();
}

}  // namespace nk::rtnl
