#include "link.h"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include "../nl/attr.h"

namespace nk::rtnl {

using nl::Attr;
using nl::AttrIter;
using nl::MsgBuilder;

namespace {

void PutCommon(MsgBuilder& b, const LinkSpec& s) {
  if (!s.name.empty()) b.PutStr(IFLA_IFNAME, s.name);
  if (s.mtu) b.PutU32(IFLA_MTU, *s.mtu);
  if (s.mac) b.Put(IFLA_ADDRESS, s.mac->data(), s.mac->size());
  if (s.master) b.PutU32(IFLA_MASTER, static_cast<uint32_t>(*s.master));
  if (s.alias) b.Put(IFLA_IFALIAS, s.alias->c_str(), s.alias->size());  // empty clears
  if (s.nsFd >= 0) b.PutU32(IFLA_NET_NS_FD, static_cast<uint32_t>(s.nsFd));
  if (s.group) b.PutU32(IFLA_GROUP, *s.group);
}

ifinfomsg Header(int32_t index, std::optional<bool> up) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  if (up) {
    ifi.ifi_change = IFF_UP;
    ifi.ifi_flags = *up ? IFF_UP : 0;
  }
  return ifi;
}

void PutAddr(MsgBuilder& b, uint16_t v4type, uint16_t v6type, const IpAddr& a) {
  b.Put(a.family == AF_INET6 ? v6type : v4type, a.bytes, a.size());
}

// IFLA_INFO_DATA of a vxlan: the options iproute2 adds while parsing its arguments first, then
// ID, LOCAL, GROUP, LEARNING and PORT, which it adds after (so `ip link add ... type vxlan` with
// its options in this order sends the same bytes).
void PutVxlan(MsgBuilder& b, const VxlanSpec& v) {
  size_t data = b.NestStart(IFLA_INFO_DATA);
  if (v.link) b.PutU32(IFLA_VXLAN_LINK, *v.link);
  if (v.ttl) b.PutU8(IFLA_VXLAN_TTL, *v.ttl);
  if (v.tos) b.PutU8(IFLA_VXLAN_TOS, *v.tos);
  if (v.ageing) b.PutU32(IFLA_VXLAN_AGEING, *v.ageing);
  if (v.proxy) b.PutU8(IFLA_VXLAN_PROXY, *v.proxy ? 1 : 0);
  if (v.l2miss) b.PutU8(IFLA_VXLAN_L2MISS, *v.l2miss ? 1 : 0);
  if (v.l3miss) b.PutU8(IFLA_VXLAN_L3MISS, *v.l3miss ? 1 : 0);
  if (v.udpCsum) b.PutU8(IFLA_VXLAN_UDP_CSUM, *v.udpCsum ? 1 : 0);
  b.PutU32(IFLA_VXLAN_ID, v.vni);
  if (v.local) PutAddr(b, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6, *v.local);
  if (v.remote) PutAddr(b, IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6, *v.remote);
  b.PutU8(IFLA_VXLAN_LEARNING, v.learning ? 1 : 0);
  b.PutBe16(IFLA_VXLAN_PORT, v.port);
  b.NestEnd(data);
}

}  // namespace

std::vector<uint8_t> EncodeNewLink(const LinkSpec& s, bool create) {
  MsgBuilder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | (create ? NLM_F_CREATE | NLM_F_EXCL : 0));
  b.PutHeader(Header(s.index, s.up));
  if (s.link) b.PutU32(IFLA_LINK, static_cast<uint32_t>(s.link));  // first, as iproute2 (`link DEV`)
  PutCommon(b, s);
  if (create && !s.kind.empty()) {
    size_t li = b.NestStart(IFLA_LINKINFO);
    b.PutStr(IFLA_INFO_KIND, s.kind);
    if (s.kind == "veth" && s.peer) {
      size_t data = b.NestStart(IFLA_INFO_DATA);
      size_t peer = b.NestStart(VETH_INFO_PEER);
      b.PutHeader(Header(0, std::nullopt));
      if (!s.peer->name.empty()) b.PutStr(IFLA_IFNAME, s.peer->name);
      if (s.peer->mtu) b.PutU32(IFLA_MTU, *s.peer->mtu);
      if (s.peer->mac) b.Put(IFLA_ADDRESS, s.peer->mac->data(), s.peer->mac->size());
      if (s.peer->nsFd >= 0) b.PutU32(IFLA_NET_NS_FD, static_cast<uint32_t>(s.peer->nsFd));
      b.NestEnd(peer);
      b.NestEnd(data);
    } else if (s.kind == "bridge" && (s.stp || s.vlanFiltering)) {
      size_t data = b.NestStart(IFLA_INFO_DATA);
      if (s.stp) b.PutU32(IFLA_BR_STP_STATE, *s.stp ? 1 : 0);
      if (s.vlanFiltering) b.PutU8(IFLA_BR_VLAN_FILTERING, *s.vlanFiltering ? 1 : 0);
      b.NestEnd(data);
    } else if (s.kind == "macvlan" && s.macvlanMode) {
      size_t data = b.NestStart(IFLA_INFO_DATA);
      b.PutU32(IFLA_MACVLAN_MODE, *s.macvlanMode);
      b.NestEnd(data);
    } else if (s.kind == "vxlan" && s.vxlan) {
      PutVxlan(b, *s.vxlan);
    }
    b.NestEnd(li);
  } else if (!create && s.kind == "bridge" && (s.stp || s.vlanFiltering)) {
    size_t li = b.NestStart(IFLA_LINKINFO);
    b.PutStr(IFLA_INFO_KIND, "bridge");
    size_t data = b.NestStart(IFLA_INFO_DATA);
    if (s.stp) b.PutU32(IFLA_BR_STP_STATE, *s.stp ? 1 : 0);
    if (s.vlanFiltering) b.PutU8(IFLA_BR_VLAN_FILTERING, *s.vlanFiltering ? 1 : 0);
    b.NestEnd(data);
    b.NestEnd(li);
  }
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeBridgePort(const LinkSpec& s) {
  if (!s.hairpin && !s.isolated) return {};
  MsgBuilder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
  b.PutHeader(Header(s.index, std::nullopt));
  if (s.index == 0 && !s.name.empty()) b.PutStr(IFLA_IFNAME, s.name);
  size_t li = b.NestStart(IFLA_LINKINFO);
  b.PutStr(IFLA_INFO_SLAVE_KIND, "bridge");
  size_t data = b.NestStart(IFLA_INFO_SLAVE_DATA);
  if (s.hairpin) b.PutU8(IFLA_BRPORT_MODE, *s.hairpin ? 1 : 0);
  if (s.isolated) b.PutU8(IFLA_BRPORT_ISOLATED, *s.isolated ? 1 : 0);
  b.NestEnd(data);
  b.NestEnd(li);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDelLink(int32_t index, const std::string& name) {
  MsgBuilder b(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
  b.PutHeader(Header(index, std::nullopt));
  if (index == 0) b.PutStr(IFLA_IFNAME, name);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDelLinkGroup(uint32_t group) {
  MsgBuilder b(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
  b.PutHeader(Header(0, std::nullopt));
  b.PutU32(IFLA_GROUP, group);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeGetLink(int32_t index, const std::string& name) {
  MsgBuilder b(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
  b.PutHeader(Header(index, std::nullopt));
  if (index == 0) b.PutStr(IFLA_IFNAME, name);
  b.PutU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDumpLinks() {
  MsgBuilder b(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
  b.PutHeader(Header(0, std::nullopt));
  b.PutU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return std::move(b).Finish();
}

namespace {

// False when IFLA_LINKINFO or a nest inside it is malformed.
bool DecodeLinkInfo(const Attr& li, LinkInfo& out) {
  AttrIter it(li);
  Attr a;
  std::optional<Attr> data, slaveData;
  while (it.Next(a)) {
    if (a.type == IFLA_INFO_KIND)
      out.kind = a.Str();
    else if (a.type == IFLA_INFO_SLAVE_KIND)
      out.slaveKind = a.Str();
    else if (a.type == IFLA_INFO_DATA)
      data = a;
    else if (a.type == IFLA_INFO_SLAVE_DATA)
      slaveData = a;
  }
  if (!it.ok()) return false;
  if (data && out.kind == "bridge") {
    AttrIter d(*data);
    while (d.Next(a)) {
      if (a.type == IFLA_BR_STP_STATE) {
        if (auto v = a.U32()) out.stp = *v != 0;
      } else if (a.type == IFLA_BR_VLAN_FILTERING) {
        if (auto v = a.U8()) out.vlanFiltering = *v != 0;
      }
    }
    if (!d.ok()) return false;
  }
  if (data && out.kind == "macvlan") {
    AttrIter d(*data);
    while (d.Next(a)) {
      if (a.type == IFLA_MACVLAN_MODE) {
        if (auto v = a.U32()) out.macvlanMode = *v;
      }
    }
    if (!d.ok()) return false;
  }
  if (data && out.kind == "vxlan") {
    VxlanInfo v;
    AttrIter d(*data);
    while (d.Next(a)) {
      switch (a.type) {
        case IFLA_VXLAN_ID:
          if (auto x = a.U32()) v.vni = *x;
          break;
        case IFLA_VXLAN_LOCAL:
          v.local = FormatIp(AF_INET, a.data, a.len);
          break;
        case IFLA_VXLAN_LOCAL6:
          v.local = FormatIp(AF_INET6, a.data, a.len);
          break;
        case IFLA_VXLAN_GROUP:
          v.remote = FormatIp(AF_INET, a.data, a.len);
          break;
        case IFLA_VXLAN_GROUP6:
          v.remote = FormatIp(AF_INET6, a.data, a.len);
          break;
        case IFLA_VXLAN_PORT:
          if (auto x = a.Be16()) v.port = *x;
          break;
        case IFLA_VXLAN_LINK:
          if (auto x = a.U32()) v.link = *x;
          break;
        case IFLA_VXLAN_LEARNING:
          if (auto x = a.U8()) v.learning = *x != 0;
          break;
        case IFLA_VXLAN_PROXY:
          if (auto x = a.U8()) v.proxy = *x != 0;
          break;
        case IFLA_VXLAN_L2MISS:
          if (auto x = a.U8()) v.l2miss = *x != 0;
          break;
        case IFLA_VXLAN_L3MISS:
          if (auto x = a.U8()) v.l3miss = *x != 0;
          break;
        case IFLA_VXLAN_UDP_CSUM:
          if (auto x = a.U8()) v.udpCsum = *x != 0;
          break;
        case IFLA_VXLAN_TTL:
          if (auto x = a.U8()) v.ttl = *x;
          break;
        case IFLA_VXLAN_TOS:
          if (auto x = a.U8()) v.tos = *x;
          break;
        case IFLA_VXLAN_AGEING:
          if (auto x = a.U32()) v.ageing = *x;
          break;
        default:
          break;
      }
    }
    if (!d.ok()) return false;
    // The kernel reports 0.0.0.0 / :: for an unset address: that is "none".
    if (v.local == "0.0.0.0" || v.local == "::") v.local.clear();
    if (v.remote == "0.0.0.0" || v.remote == "::") v.remote.clear();
    out.vxlan = v;
  }
  if (slaveData && out.slaveKind == "bridge") {
    AttrIter d(*slaveData);
    while (d.Next(a)) {
      if (a.type == IFLA_BRPORT_MODE) {
        if (auto v = a.U8()) out.hairpin = *v != 0;
      } else if (a.type == IFLA_BRPORT_ISOLATED) {
        if (auto v = a.U8()) out.isolated = *v != 0;
      }
    }
    if (!d.ok()) return false;
  }
  return true;
}

// IFLA_AF_SPEC: per address family, the device's settings. False when a nest is malformed.
bool DecodeAfSpec(const Attr& spec, LinkInfo& out) {
  AttrIter it(spec);
  Attr fam;
  while (it.Next(fam)) {
    AttrIter f(fam);
    Attr a;
    while (f.Next(a)) {
      if (fam.type == AF_INET && a.type == IFLA_INET_CONF) {
        // An array of u32, the value of IPV4_DEVCONF_X at index X - 1.
        size_t at = (IPV4_DEVCONF_ROUTE_LOCALNET - 1) * 4;
        if (a.len >= at + 4) {
          uint32_t v;
          std::memcpy(&v, a.data + at, 4);
          out.routeLocalnet = v;
        }
      } else if (fam.type == AF_INET6 && a.type == IFLA_INET6_ADDR_GEN_MODE) {
        if (auto v = a.U8()) out.addrGenMode = *v;
      }
    }
    if (!f.ok()) return false;
  }
  return it.ok();
}

}  // namespace

bool DecodeLink(const uint8_t* msg, size_t len, LinkInfo& out) {
  std::vector<nl::MsgView> views;
  if (!nl::SplitMessages(msg, len, views) || views.size() != 1) return false;
  const nl::MsgView& m = views[0];
  if (m.hdr->nlmsg_type != RTM_NEWLINK) return false;
  const uint8_t* attrs;
  size_t alen;
  if (!nl::MessageAttrs(m, sizeof(ifinfomsg), &attrs, &alen)) return false;
  ifinfomsg ifi;
  std::memcpy(&ifi, m.payload, sizeof(ifi));
  out.index = ifi.ifi_index;
  out.flags = ifi.ifi_flags;
  out.type = ifi.ifi_type;
  AttrIter it(attrs, alen);
  Attr a;
  bool nestsOk = true;
  while (it.Next(a)) {
    switch (a.type) {
      case IFLA_IFNAME:
        out.name = a.Str();
        break;
      case IFLA_MTU:
        if (auto v = a.U32()) out.mtu = *v;
        break;
      case IFLA_ADDRESS:
        out.mac = a.Bytes();
        break;
      case IFLA_OPERSTATE:
        if (auto v = a.U8()) out.operState = *v;
        break;
      case IFLA_MASTER:
        if (auto v = a.U32()) out.master = static_cast<int32_t>(*v);
        break;
      case IFLA_LINK:
        if (auto v = a.U32()) out.link = static_cast<int32_t>(*v);
        break;
      case IFLA_LINK_NETNSID:
        if (auto v = a.U32()) out.linkNetnsId = static_cast<int32_t>(*v);
        break;
      case IFLA_IFALIAS:
        out.alias = a.Str();
        break;
      case IFLA_GROUP:
        if (auto v = a.U32()) out.group = *v;
        break;
      case IFLA_LINKINFO:
        nestsOk = DecodeLinkInfo(a, out) && nestsOk;
        break;
      case IFLA_AF_SPEC:
        nestsOk = DecodeAfSpec(a, out) && nestsOk;
        break;
      default:
        break;  // kept in the kernel's message; not modelled here
    }
  }
  return it.ok() && nestsOk;
}

}  // namespace nk::rtnl
