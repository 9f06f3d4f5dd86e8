// native/rtnl: link/addr/route/neigh encoders (exact bytes where iproute2 sends the same; the TypeScript
// golden tests compare every case against test/fixtures/rtnl/), round trips through the
// decoders, malformed input, and the address helpers.
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <cstring>

#include "check.h"
#include "nl/attr.h"
#include "rtnl/addr.h"
#include "rtnl/ip.h"
#include "rtnl/link.h"
#include "rtnl/neigh.h"
#include "rtnl/route.h"

using nk::nl::Attr;
using nk::nl::AttrIter;
using nk::test::Hex;
namespace rtnl = nk::rtnl;

namespace {

// Top-level attributes of a message after its family header.
std::vector<std::optional<Attr>> Table(const std::vector<uint8_t>& m, size_t familyLen, size_t max) {
  std::vector<std::optional<Attr>> tb;
  size_t off = sizeof(nlmsghdr) + familyLen;
  CHECK(nk::nl::ParseTable(m.data() + off, m.size() - off, tb, max));
  return tb;
}

std::vector<std::optional<Attr>> Nested(const Attr& a, size_t max, size_t skip = 0) {
  std::vector<std::optional<Attr>> tb;
  CHECK(nk::nl::ParseTable(a.data + skip, a.len - skip, tb, max));
  return tb;
}

uint16_t Flags(const std::vector<uint8_t>& m) {
  nlmsghdr h;
  std::memcpy(&h, m.data(), sizeof(h));
  return h.nlmsg_flags;
}

}  // namespace

// `ip link set dev veth0 nomaster` (link-set-nomaster.txt), seq and pid zero.
TEST(encode_link_nomaster_matches_iproute2) {
  rtnl::LinkSpec s;
  s.index = 2;
  s.master = 0;
  CHECK_EQ(rtnl::EncodeNewLink(s, false), Hex("28 00 00 00 10 00 05 00 00 00 00 00 00 00 00 00"
                                              "00 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00"
                                              "08 00 0a 00 00 00 00 00"));
}

// `ip link set dev veth0 down` (link-set-down.txt): IFF_UP in ifi_change, not in ifi_flags.
TEST(encode_link_down_matches_iproute2) {
  rtnl::LinkSpec s;
  s.index = 2;
  s.up = false;
  CHECK_EQ(rtnl::EncodeNewLink(s, false), Hex("20 00 00 00 10 00 05 00 00 00 00 00 00 00 00 00"
                                              "00 00 00 00 02 00 00 00 00 00 00 00 01 00 00 00"));
}

// `ip addr add 10.0.0.1/24 brd + dev br0` (addr-add-v4.txt).
TEST(encode_addr_v4_matches_iproute2) {
  rtnl::AddrSpec s;
  s.index = 5;
  s.addr = rtnl::ParseIp("10.0.0.1");
  s.prefixLen = 24;
  CHECK_EQ(rtnl::EncodeNewAddr(s), Hex("30 00 00 00 14 00 05 06 00 00 00 00 00 00 00 00"
                                       "02 18 00 00 05 00 00 00"
                                       "08 00 02 00 0a 00 00 01  08 00 01 00 0a 00 00 01  08 00 04 00 0a 00 00 ff"));
}

TEST(encode_veth_with_peer_in_another_namespace) {
  rtnl::LinkSpec s;
  s.name = "veth0";
  s.kind = "veth";
  s.mtu = 1400;
  s.up = true;
  s.master = 4;
  rtnl::VethPeerSpec p;
  p.name = "eth0";
  p.nsFd = 37;
  p.mac = std::vector<uint8_t>{2, 0, 0, 0, 0, 9};
  s.peer = p;
  auto m = rtnl::EncodeNewLink(s, true);
  CHECK_EQ(Flags(m), uint16_t{NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL});
  ifinfomsg ifi;
  std::memcpy(&ifi, m.data() + sizeof(nlmsghdr), sizeof(ifi));
  CHECK_EQ(ifi.ifi_flags, unsigned{IFF_UP});
  CHECK_EQ(ifi.ifi_change, unsigned{IFF_UP});
  auto tb = Table(m, sizeof(ifinfomsg), IFLA_MAX);
  CHECK_EQ(tb[IFLA_IFNAME]->Str(), std::string("veth0"));
  CHECK_EQ(*tb[IFLA_MTU]->U32(), 1400u);
  CHECK_EQ(*tb[IFLA_MASTER]->U32(), 4u);
  CHECK(!tb[IFLA_NET_NS_FD]);
  auto li = Nested(*tb[IFLA_LINKINFO], IFLA_INFO_MAX);
  CHECK_EQ(li[IFLA_INFO_KIND]->Str(), std::string("veth"));
  auto data = Nested(*li[IFLA_INFO_DATA], VETH_INFO_MAX);
  const Attr& peer = *data[VETH_INFO_PEER];
  CHECK(peer.len >= sizeof(ifinfomsg));
  ifinfomsg pifi;
  std::memcpy(&pifi, peer.data, sizeof(pifi));
  CHECK_EQ(pifi.ifi_flags, 0u);  // the peer cannot be brought up in the same message
  auto ptb = Nested(peer, IFLA_MAX, sizeof(ifinfomsg));
  CHECK_EQ(ptb[IFLA_IFNAME]->Str(), std::string("eth0"));
  CHECK_EQ(*ptb[IFLA_NET_NS_FD]->U32(), 37u);
  CHECK_EQ(ptb[IFLA_ADDRESS]->Bytes(), (std::vector<uint8_t>{2, 0, 0, 0, 0, 9}));
}

TEST(encode_bridge_create_and_change) {
  rtnl::LinkSpec s;
  s.name = "br0";
  s.kind = "bridge";
  auto plain = rtnl::EncodeNewLink(s, true);
  auto li = Nested(*Table(plain, sizeof(ifinfomsg), IFLA_MAX)[IFLA_LINKINFO], IFLA_INFO_MAX);
  CHECK(!li[IFLA_INFO_DATA]);  // kernel defaults: no empty IFLA_INFO_DATA
  s.stp = true;
  s.vlanFiltering = false;
  auto m = rtnl::EncodeNewLink(s, true);
  auto data = Nested(*Nested(*Table(m, sizeof(ifinfomsg), IFLA_MAX)[IFLA_LINKINFO], IFLA_INFO_MAX)[IFLA_INFO_DATA],
                     IFLA_BR_MAX);
  CHECK_EQ(*data[IFLA_BR_STP_STATE]->U32(), 1u);
  CHECK_EQ(data[IFLA_BR_VLAN_FILTERING]->len, size_t{1});
  CHECK_EQ(*data[IFLA_BR_VLAN_FILTERING]->U8(), uint8_t{0});
  // A change of an existing bridge names its kind so the kernel routes IFLA_INFO_DATA to it.
  rtnl::LinkSpec c;
  c.index = 9;
  c.kind = "bridge";
  c.stp = false;
  auto ch = rtnl::EncodeNewLink(c, false);
  CHECK_EQ(Flags(ch), uint16_t{NLM_F_REQUEST | NLM_F_ACK});
  auto cli = Nested(*Table(ch, sizeof(ifinfomsg), IFLA_MAX)[IFLA_LINKINFO], IFLA_INFO_MAX);
  CHECK_EQ(cli[IFLA_INFO_KIND]->Str(), std::string("bridge"));
}

TEST(encode_bridge_port_flags) {
  rtnl::LinkSpec s;
  s.index = 3;
  CHECK(rtnl::EncodeBridgePort(s).empty());
  s.hairpin = true;
  s.isolated = false;
  auto m = rtnl::EncodeBridgePort(s);
  auto li = Nested(*Table(m, sizeof(ifinfomsg), IFLA_MAX)[IFLA_LINKINFO], IFLA_INFO_MAX);
  CHECK_EQ(li[IFLA_INFO_SLAVE_KIND]->Str(), std::string("bridge"));
  auto port = Nested(*li[IFLA_INFO_SLAVE_DATA], IFLA_BRPORT_MAX);
  CHECK_EQ(*port[IFLA_BRPORT_MODE]->U8(), uint8_t{1});
  CHECK_EQ(*port[IFLA_BRPORT_ISOLATED]->U8(), uint8_t{0});
}

TEST(encode_del_get_dump_links) {
  auto del = rtnl::EncodeDelLink(0, "veth0");
  CHECK_EQ(Table(del, sizeof(ifinfomsg), IFLA_MAX)[IFLA_IFNAME]->Str(), std::string("veth0"));
  auto delIdx = rtnl::EncodeDelLink(4, "ignored");
  CHECK(!Table(delIdx, sizeof(ifinfomsg), IFLA_MAX)[IFLA_IFNAME]);
  auto get = rtnl::EncodeGetLink(0, "lo");
  CHECK_EQ(*Table(get, sizeof(ifinfomsg), IFLA_MAX)[IFLA_EXT_MASK]->U32(), uint32_t{RTEXT_FILTER_SKIP_STATS});
  CHECK_EQ(Flags(rtnl::EncodeDumpLinks()), uint16_t{NLM_F_REQUEST | NLM_F_DUMP});
}

TEST(encode_addr_broadcast_scope_and_flags) {
  auto brd = [](const char* ip, uint8_t len) {
    rtnl::AddrSpec s;
    s.addr = rtnl::ParseIp(ip);
    s.prefixLen = len;
    auto m = rtnl::EncodeNewAddr(s);
    auto tb = Table(m, sizeof(ifaddrmsg), IFA_MAX);
    return tb[IFA_BROADCAST] ? rtnl::FormatIp(AF_INET, tb[IFA_BROADCAST]->data, tb[IFA_BROADCAST]->len)
                             : std::string("none");
  };
  CHECK_EQ(brd("10.1.2.3", 24), std::string("10.1.2.255"));
  CHECK_EQ(brd("10.1.2.3", 30), std::string("10.1.2.3"));
  CHECK_EQ(brd("10.1.2.3", 8), std::string("10.255.255.255"));
  CHECK_EQ(brd("10.1.2.3", 0), std::string("255.255.255.255"));
  CHECK_EQ(brd("10.1.2.3", 31), std::string("none"));
  CHECK_EQ(brd("10.1.2.3", 32), std::string("none"));

  auto scope = [](const char* ip, uint8_t len) {
    rtnl::AddrSpec s;
    s.addr = rtnl::ParseIp(ip);
    s.prefixLen = len;
    auto m = rtnl::EncodeNewAddr(s);
    ifaddrmsg h;
    std::memcpy(&h, m.data() + sizeof(nlmsghdr), sizeof(h));
    return static_cast<int>(h.ifa_scope);
  };
  CHECK_EQ(scope("10.0.0.1", 24), int{RT_SCOPE_UNIVERSE});
  CHECK_EQ(scope("127.0.0.2", 8), int{RT_SCOPE_HOST});
  CHECK_EQ(scope("fe80::1", 64), int{RT_SCOPE_LINK});
  CHECK_EQ(scope("febf::1", 64), int{RT_SCOPE_LINK});
  CHECK_EQ(scope("fec0::1", 64), int{RT_SCOPE_UNIVERSE});
  CHECK_EQ(scope("::1", 128), int{RT_SCOPE_HOST});
  CHECK_EQ(scope("fd00::1", 64), int{RT_SCOPE_UNIVERSE});

  rtnl::AddrSpec s;
  s.addr = rtnl::ParseIp("fd00::1");
  s.prefixLen = 64;
  s.nodad = true;
  s.replace = true;
  auto m = rtnl::EncodeNewAddr(s);
  CHECK_EQ(Flags(m), uint16_t{NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE});
  CHECK_EQ(*Table(m, sizeof(ifaddrmsg), IFA_MAX)[IFA_FLAGS]->U32(), uint32_t{IFA_F_NODAD});
  auto del = rtnl::EncodeDelAddr(s);
  auto dtb = Table(del, sizeof(ifaddrmsg), IFA_MAX);
  CHECK(dtb[IFA_LOCAL].has_value());
  CHECK(!dtb[IFA_FLAGS].has_value());
}

TEST(encode_routes_scope_table_and_flags) {
  auto rt = [](bool gateway, uint32_t table, uint8_t family = AF_INET) {
    rtnl::RouteSpec s;
    s.family = family;
    s.dst = rtnl::ParseIp(family == AF_INET ? "10.9.0.0" : "fd09::");
    s.dstLen = family == AF_INET ? 16 : 64;
    if (gateway) s.gateway = rtnl::ParseIp(family == AF_INET ? "10.0.0.254" : "fd00::fe");
    s.oif = 5;
    s.table = table;
    return rtnl::EncodeNewRoute(s, false);
  };
  auto hdr = [](const std::vector<uint8_t>& m) {
    rtmsg h;
    std::memcpy(&h, m.data() + sizeof(nlmsghdr), sizeof(h));
    return h;
  };
  CHECK_EQ(int{hdr(rt(true, 254)).rtm_scope}, int{RT_SCOPE_UNIVERSE});
  CHECK_EQ(int{hdr(rt(false, 254)).rtm_scope}, int{RT_SCOPE_LINK});
  CHECK_EQ(int{hdr(rt(false, 254, AF_INET6)).rtm_scope}, int{RT_SCOPE_UNIVERSE});
  CHECK_EQ(int{hdr(rt(true, 100)).rtm_table}, 100);
  auto big = rt(true, 1000);
  CHECK_EQ(int{hdr(big).rtm_table}, int{RT_TABLE_UNSPEC});
  CHECK_EQ(*Table(big, sizeof(rtmsg), RTA_MAX)[RTA_TABLE]->U32(), 1000u);
  CHECK_EQ(int{hdr(big).rtm_protocol}, int{RTPROT_BOOT});

  rtnl::RouteSpec d;
  d.family = AF_INET;
  d.gateway = rtnl::ParseIp("10.0.0.254");
  auto def = rtnl::EncodeNewRoute(d, true);
  CHECK_EQ(Flags(def), uint16_t{NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE});
  CHECK(!Table(def, sizeof(rtmsg), RTA_MAX)[RTA_DST]);
  CHECK_EQ(int{hdr(def).rtm_dst_len}, 0);
  auto del = rtnl::EncodeDelRoute(d);
  CHECK_EQ(int{hdr(del).rtm_scope}, int{RT_SCOPE_NOWHERE});
  CHECK_EQ(Flags(del), uint16_t{NLM_F_REQUEST | NLM_F_ACK});
}

// Our own RTM_NEW* messages are well-formed kernel messages too: decode them back.
TEST(round_trip_link) {
  rtnl::LinkSpec s;
  s.index = 12;
  s.name = "br-test";
  s.kind = "bridge";
  s.mtu = 9000;
  s.mac = std::vector<uint8_t>{2, 0x42, 0xac, 0x11, 0, 2};
  s.master = 3;
  s.alias = "netns-kit:n:e";
  s.up = true;
  s.stp = true;
  s.vlanFiltering = true;
  auto m = rtnl::EncodeNewLink(s, true);
  rtnl::LinkInfo l;
  CHECK(rtnl::DecodeLink(m.data(), m.size(), l));
  CHECK_EQ(l.index, 12);
  CHECK_EQ(l.name, std::string("br-test"));
  CHECK_EQ(l.kind, std::string("bridge"));
  CHECK_EQ(l.mtu, 9000u);
  CHECK_EQ(rtnl::FormatMac(l.mac.data(), l.mac.size()), std::string("02:42:ac:11:00:02"));
  CHECK_EQ(l.master, 3);
  CHECK_EQ(l.alias, std::string("netns-kit:n:e"));
  CHECK_EQ(l.flags & IFF_UP, unsigned{IFF_UP});
  CHECK(l.stp.value_or(false));
  CHECK(l.vlanFiltering.value_or(false));

  rtnl::LinkSpec port;
  port.index = 4;
  port.hairpin = false;
  port.isolated = true;
  auto pm = rtnl::EncodeBridgePort(port);
  rtnl::LinkInfo pl;
  CHECK(rtnl::DecodeLink(pm.data(), pm.size(), pl));
  CHECK_EQ(pl.slaveKind, std::string("bridge"));
  CHECK(!pl.hairpin.value_or(true));
  CHECK(pl.isolated.value_or(false));
}

TEST(round_trip_addr_and_route) {
  rtnl::AddrSpec a;
  a.index = 6;
  a.addr = rtnl::ParseIp("192.168.7.9");
  a.prefixLen = 20;
  auto am = rtnl::EncodeNewAddr(a);
  rtnl::AddrInfo ai;
  CHECK(rtnl::DecodeAddr(am.data(), am.size(), ai));
  CHECK_EQ(ai.address, std::string("192.168.7.9"));
  CHECK_EQ(ai.broadcast, std::string("192.168.15.255"));
  CHECK_EQ(int{ai.prefixLen}, 20);
  CHECK_EQ(ai.index, 6);
  CHECK(ai.peer.empty());

  rtnl::RouteSpec r;
  r.family = AF_INET6;
  r.dst = rtnl::ParseIp("fd10::");
  r.dstLen = 48;
  r.gateway = rtnl::ParseIp("fe80::1");
  r.oif = 2;
  r.metric = 77;
  r.prefsrc = rtnl::ParseIp("fd00::5");
  r.table = 300;
  auto rm = rtnl::EncodeNewRoute(r, false);
  rtnl::RouteInfo ri;
  CHECK(rtnl::DecodeRoute(rm.data(), rm.size(), ri));
  CHECK_EQ(ri.dst, std::string("fd10::"));
  CHECK_EQ(int{ri.dstLen}, 48);
  CHECK_EQ(ri.gateway, std::string("fe80::1"));
  CHECK_EQ(ri.oif, 2);
  CHECK_EQ(ri.metric.value_or(0), 77u);
  CHECK_EQ(ri.prefsrc, std::string("fd00::5"));
  CHECK_EQ(ri.table, 300u);
}

TEST(decoders_refuse_truncated_lying_and_foreign_messages) {
  rtnl::LinkSpec s;
  s.name = "veth0";
  s.kind = "veth";
  s.mtu = 1500;
  s.peer = rtnl::VethPeerSpec{};
  s.peer->name = "eth0";
  auto m = rtnl::EncodeNewLink(s, true);
  rtnl::LinkInfo l;
  for (size_t n = 0; n < m.size(); n++) {
    std::vector<uint8_t> cut(m.begin(), m.begin() + static_cast<long>(n));
    CHECK(!rtnl::DecodeLink(cut.data(), cut.size(), l));
  }
  // nlmsg_len shortened into the family header, and the buffer with it
  for (uint32_t len : {16u, 20u, 31u}) {
    std::vector<uint8_t> c(m.begin(), m.begin() + len);
    std::memcpy(c.data(), &len, 4);
    CHECK(!rtnl::DecodeLink(c.data(), c.size(), l));
  }
  // every attribute length byte set to every bad value
  for (size_t off = sizeof(nlmsghdr) + sizeof(ifinfomsg); off + 4 <= m.size();) {
    uint16_t len;
    std::memcpy(&len, m.data() + off, 2);
    for (uint16_t bad : {uint16_t{0}, uint16_t{3}, static_cast<uint16_t>(m.size() - off + 1)}) {
      auto c = m;
      std::memcpy(c.data() + off, &bad, 2);
      CHECK(!rtnl::DecodeLink(c.data(), c.size(), l));
    }
    off += nk::nl::Align(len);
  }
  rtnl::AddrInfo ai;
  rtnl::RouteInfo ri;
  CHECK(!rtnl::DecodeAddr(m.data(), m.size(), ai));  // an RTM_NEWLINK
  CHECK(!rtnl::DecodeRoute(m.data(), m.size(), ri));
  auto twice = m;
  twice.insert(twice.end(), m.begin(), m.end());
  CHECK(!rtnl::DecodeLink(twice.data(), twice.size(), l));
}

TEST(encode_macvlan_parent_mode_and_target) {
  rtnl::LinkSpec s;
  s.name = "mv0";
  s.kind = "macvlan";
  s.link = 7;
  s.macvlanMode = 4;  // MACVLAN_MODE_BRIDGE
  s.nsFd = 41;
  auto m = rtnl::EncodeNewLink(s, true);
  auto tb = Table(m, sizeof(ifinfomsg), IFLA_MAX);
  CHECK_EQ(*tb[IFLA_LINK]->U32(), 7u);
  CHECK_EQ(*tb[IFLA_NET_NS_FD]->U32(), 41u);
  // IFLA_LINK first, as iproute2's `ip link add link DEV ...`
  uint16_t first;
  std::memcpy(&first, m.data() + sizeof(nlmsghdr) + sizeof(ifinfomsg) + 2, 2);
  CHECK_EQ(first, uint16_t{IFLA_LINK});
  auto li = Nested(*tb[IFLA_LINKINFO], IFLA_INFO_MAX);
  CHECK_EQ(li[IFLA_INFO_KIND]->Str(), std::string("macvlan"));
  auto data = Nested(*li[IFLA_INFO_DATA], IFLA_MACVLAN_MAX);
  CHECK_EQ(*data[IFLA_MACVLAN_MODE]->U32(), 4u);
  rtnl::LinkInfo l;
  CHECK(rtnl::DecodeLink(m.data(), m.size(), l));
  CHECK_EQ(l.link, 7);
  CHECK_EQ(l.macvlanMode.value_or(0), 4u);
  // Without a mode the kernel's default (vepa) applies: no IFLA_INFO_DATA at all.
  s.macvlanMode.reset();
  auto plain = rtnl::EncodeNewLink(s, true);
  CHECK(!Nested(*Table(plain, sizeof(ifinfomsg), IFLA_MAX)[IFLA_LINKINFO], IFLA_INFO_MAX)[IFLA_INFO_DATA]);
}

TEST(encode_vxlan_and_decode_it_back) {
  rtnl::LinkSpec s;
  s.name = "vx0";
  s.kind = "vxlan";
  rtnl::VxlanSpec v;
  v.vni = 0xabcdef;
  v.local = rtnl::ParseIp("10.0.0.1");
  v.remote = rtnl::ParseIp("239.1.1.1");
  v.port = 4789;
  v.link = 3;
  v.ttl = 64;
  v.l2miss = true;
  v.udpCsum = false;
  s.vxlan = v;
  auto m = rtnl::EncodeNewLink(s, true);
  auto li = Nested(*Table(m, sizeof(ifinfomsg), IFLA_MAX)[IFLA_LINKINFO], IFLA_INFO_MAX);
  auto d = Nested(*li[IFLA_INFO_DATA], IFLA_VXLAN_MAX);
  CHECK_EQ(*d[IFLA_VXLAN_ID]->U32(), 0xabcdefu);
  CHECK_EQ(d[IFLA_VXLAN_PORT]->Bytes(), (std::vector<uint8_t>{0x12, 0xb5}));  // big-endian 4789
  CHECK_EQ(d[IFLA_VXLAN_LOCAL]->Bytes(), (std::vector<uint8_t>{10, 0, 0, 1}));
  CHECK_EQ(d[IFLA_VXLAN_GROUP]->Bytes(), (std::vector<uint8_t>{239, 1, 1, 1}));
  CHECK_EQ(*d[IFLA_VXLAN_LEARNING]->U8(), uint8_t{0});  // always sent: the kernel's default is on
  CHECK_EQ(*d[IFLA_VXLAN_LINK]->U32(), 3u);
  CHECK_EQ(*d[IFLA_VXLAN_TTL]->U8(), uint8_t{64});
  CHECK_EQ(*d[IFLA_VXLAN_L2MISS]->U8(), uint8_t{1});
  CHECK_EQ(*d[IFLA_VXLAN_UDP_CSUM]->U8(), uint8_t{0});
  CHECK(!d[IFLA_VXLAN_L3MISS] && !d[IFLA_VXLAN_PROXY] && !d[IFLA_VXLAN_TOS] && !d[IFLA_VXLAN_AGEING]);
  rtnl::LinkInfo l;
  CHECK(rtnl::DecodeLink(m.data(), m.size(), l));
  CHECK(l.vxlan.has_value());
  CHECK_EQ(l.vxlan->vni, 0xabcdefu);
  CHECK_EQ(l.vxlan->local, std::string("10.0.0.1"));
  CHECK_EQ(l.vxlan->remote, std::string("239.1.1.1"));
  CHECK_EQ(int{l.vxlan->port}, 4789);
  CHECK_EQ(l.vxlan->link, 3u);
  CHECK(!l.vxlan->learning && l.vxlan->l2miss && !l.vxlan->udpCsum);
  CHECK_EQ(int{l.vxlan->ttl}, 64);

  v.local = rtnl::ParseIp("fd00::1");
  v.remote = rtnl::ParseIp("fd00::2");
  s.vxlan = v;
  auto m6 = rtnl::EncodeNewLink(s, true);
  auto d6 = Nested(*Nested(*Table(m6, sizeof(ifinfomsg), IFLA_MAX)[IFLA_LINKINFO], IFLA_INFO_MAX)[IFLA_INFO_DATA],
                   IFLA_VXLAN_MAX);
  CHECK(!d6[IFLA_VXLAN_LOCAL] && !d6[IFLA_VXLAN_GROUP]);
  CHECK_EQ(d6[IFLA_VXLAN_LOCAL6]->len, size_t{16});
  CHECK_EQ(d6[IFLA_VXLAN_GROUP6]->len, size_t{16});
  CHECK(rtnl::DecodeLink(m6.data(), m6.size(), l));
  CHECK_EQ(l.vxlan->remote, std::string("fd00::2"));
}

// `bridge fdb add 00:00:00:00:00:00 dev vx0 dst 10.0.0.2 self permanent` (fdb-add-vxlan-default.txt).
TEST(encode_fdb_add_matches_iproute2) {
  rtnl::NeighSpec s;
  s.family = AF_BRIDGE;
  s.index = 10;
  s.state = NUD_NOARP | NUD_PERMANENT;
  s.flags = NTF_SELF;
  s.lladdr = std::vector<uint8_t>(6, 0);
  s.dst = rtnl::ParseIp("10.0.0.2");
  CHECK_EQ(rtnl::EncodeNewNeigh(s, rtnl::NeighMode::Add), Hex("30 00 00 00 1c 00 05 06 00 00 00 00 00 00 00 00"
                                                              "07 00 00 00 0a 00 00 00 c0 00 02 00"
                                                              "0a 00 02 00 00 00 00 00 00 00 00 00"
                                                              "08 00 01 00 0a 00 00 02"));
  CHECK_EQ(Flags(rtnl::EncodeNewNeigh(s, rtnl::NeighMode::Append)),
           uint16_t{NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND});
  CHECK_EQ(Flags(rtnl::EncodeNewNeigh(s, rtnl::NeighMode::Replace)),
           uint16_t{NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE});
  auto del = rtnl::EncodeDelNeigh(s);
  CHECK_EQ(Flags(del), uint16_t{NLM_F_REQUEST | NLM_F_ACK});
  s.port = 4790;
  s.vni = 42;
  s.vlan = 5;
  s.via = 3;
  auto full = rtnl::EncodeNewNeigh(s, rtnl::NeighMode::Add);
  auto tb = Table(full, sizeof(ndmsg), NDA_MAX);
  CHECK_EQ(tb[NDA_PORT]->Bytes(), (std::vector<uint8_t>{0x12, 0xb6}));
  CHECK_EQ(*tb[NDA_VNI]->U32(), 42u);
  CHECK_EQ(*tb[NDA_VLAN]->U16(), uint16_t{5});
  CHECK_EQ(*tb[NDA_IFINDEX]->U32(), 3u);
}

// `ip neigh replace 10.0.0.2 lladdr 02:00:00:00:03:01 dev br0 nud permanent` (neigh-replace-v4.txt):
// NDA_DST before NDA_LLADDR, unlike `bridge fdb`.
TEST(encode_neigh_replace_matches_iproute2) {
  rtnl::NeighSpec s;
  s.family = AF_INET;
  s.index = 5;
  s.state = NUD_PERMANENT;
  s.dst = rtnl::ParseIp("10.0.0.2");
  s.lladdr = std::vector<uint8_t>{2, 0, 0, 0, 3, 1};
  CHECK_EQ(rtnl::EncodeNewNeigh(s, rtnl::NeighMode::Replace), Hex("30 00 00 00 1c 00 05 05 00 00 00 00 00 00 00 00"
                                                                  "02 00 00 00 05 00 00 00 80 00 00 00"
                                                                  "08 00 01 00 0a 00 00 02"
                                                                  "0a 00 02 00 02 00 00 00 03 01 00 00"));
}

TEST(encode_neigh_and_fdb_dumps) {
  // Neighbour dumps filter by NDA_IFINDEX: a strict-checking socket refuses ndm_ifindex there.
  auto n = rtnl::EncodeDumpNeighs(AF_UNSPEC, 5);
  CHECK_EQ(Flags(n), uint16_t{NLM_F_REQUEST | NLM_F_DUMP});
  ndmsg h;
  std::memcpy(&h, n.data() + sizeof(nlmsghdr), sizeof(h));
  CHECK_EQ(h.ndm_ifindex, 0);
  CHECK_EQ(*Table(n, sizeof(ndmsg), NDA_MAX)[NDA_IFINDEX]->U32(), 5u);
  CHECK_EQ(rtnl::EncodeDumpNeighs(AF_INET, 0).size(), sizeof(nlmsghdr) + sizeof(ndmsg));
  // FDB dumps name the device in ndm_ifindex (rtnl_fdb_dump), with no attributes.
  auto f = rtnl::EncodeDumpNeighs(AF_BRIDGE, 10);
  CHECK_EQ(f.size(), sizeof(nlmsghdr) + sizeof(ndmsg));
  std::memcpy(&h, f.data() + sizeof(nlmsghdr), sizeof(h));
  CHECK_EQ(int{h.ndm_family}, AF_BRIDGE);
  CHECK_EQ(h.ndm_ifindex, 10);
}

TEST(round_trip_neigh_and_malformed_input) {
  rtnl::NeighSpec s;
  s.family = AF_BRIDGE;
  s.index = 9;
  s.state = NUD_NOARP;
  s.flags = NTF_SELF;
  s.lladdr = std::vector<uint8_t>{2, 0, 0, 0, 0, 0xb};
  s.dst = rtnl::ParseIp("fd00::3");
  s.vni = 7;
  s.port = 8472;
  auto m = rtnl::EncodeNewNeigh(s, rtnl::NeighMode::Add);
  rtnl::NeighInfo n;
  CHECK(rtnl::DecodeNeigh(m.data(), m.size(), n));
  CHECK_EQ(int{n.family}, AF_BRIDGE);
  CHECK_EQ(n.index, 9);
  CHECK_EQ(int{n.state}, NUD_NOARP);
  CHECK_EQ(int{n.flags}, NTF_SELF);
  CHECK_EQ(n.lladdr, std::string("02:00:00:00:00:0b"));
  CHECK_EQ(n.dst, std::string("fd00::3"));
  CHECK_EQ(n.vni.value_or(0), 7u);
  CHECK_EQ(int{n.port.value_or(0)}, 8472);
  CHECK(!n.master);
  for (size_t k = 0; k < m.size(); k++) {
    std::vector<uint8_t> cut(m.begin(), m.begin() + static_cast<long>(k));
    CHECK(!rtnl::DecodeNeigh(cut.data(), cut.size(), n));
  }
  // A destination of neither address size decodes as no address, not as garbage.
  rtnl::NeighSpec odd;
  odd.family = AF_BRIDGE;
  auto om = rtnl::EncodeNewNeigh(odd, rtnl::NeighMode::Add);
  uint8_t three[] = {7, 0, 1, 0, 1, 2, 3, 0};  // NDA_DST, 3 bytes
  om.insert(om.end(), three, three + sizeof(three));
  uint32_t len = static_cast<uint32_t>(om.size());
  std::memcpy(om.data(), &len, 4);
  rtnl::NeighInfo on;
  CHECK(rtnl::DecodeNeigh(om.data(), om.size(), on));
  CHECK(on.dst.empty());
  rtnl::LinkInfo l;
  CHECK(!rtnl::DecodeLink(m.data(), m.size(), l));  // an RTM_NEWNEIGH
  rtnl::LinkSpec ls;
  ls.name = "x";
  auto lm = rtnl::EncodeNewLink(ls, false);
  CHECK(!rtnl::DecodeNeigh(lm.data(), lm.size(), n));
}

TEST(ip_and_mac_helpers) {
  auto v4 = rtnl::ParseIp("10.0.0.1");
  CHECK_EQ(int{v4.family}, AF_INET);
  CHECK_EQ(v4.size(), size_t{4});
  auto v6 = rtnl::ParseIp("::ffff:10.0.0.1");
  CHECK_EQ(int{v6.family}, AF_INET6);
  CHECK_EQ(rtnl::FormatIp(AF_INET6, v6.bytes, 16), std::string("::ffff:10.0.0.1"));
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "fe80::1%eth0", "::g", "10.0.0.1/24"})
    CHECK_THROWS(rtnl::ParseIp(bad));
  CHECK_EQ(rtnl::FormatIp(AF_INET, v4.bytes, 3), std::string());
  CHECK_EQ(rtnl::FormatIp(AF_INET6, v6.bytes, 4), std::string());
  CHECK_EQ(rtnl::FormatIp(99, v6.bytes, 16), std::string());

  CHECK_EQ(rtnl::ParseMac("02:42:AC:11:0:2"), (std::vector<uint8_t>{2, 0x42, 0xac, 0x11, 0, 2}));
  CHECK_EQ(rtnl::ParseMac("ab"), (std::vector<uint8_t>{0xab}));
  for (const char* bad : {"", ":", "02:", ":02", "02::03", "123:45", "0g:00", "02-42"})
    CHECK_THROWS(rtnl::ParseMac(bad));
  CHECK_EQ(rtnl::FormatMac(nullptr, 0), std::string());
  uint8_t mac[] = {0, 1, 0xfe};
  CHECK_EQ(rtnl::FormatMac(mac, 3), std::string("00:01:fe"));
}

// IFLA_AF_SPEC as the kernel sends it: AF_INET's IFLA_INET_CONF (u32 per IPV4_DEVCONF_*, from
// index 1) and AF_INET6's IFLA_INET6_ADDR_GEN_MODE; a short array says nothing of route_localnet.
TEST(decode_link_af_spec_route_localnet_and_addr_gen_mode) {
  auto build = [](size_t confs) {
    nk::nl::MsgBuilder b(RTM_NEWLINK, 0);
    ifinfomsg ifi{};
    ifi.ifi_index = 7;
    b.PutHeader(ifi);
    b.PutStr(IFLA_IFNAME, "br-x");
    size_t af = b.NestStart(IFLA_AF_SPEC);
    size_t v4 = b.NestStart(AF_INET);
    std::vector<uint32_t> conf(confs, 0);
    if (confs >= IPV4_DEVCONF_ROUTE_LOCALNET) conf[IPV4_DEVCONF_ROUTE_LOCALNET - 1] = 1;
    b.Put(IFLA_INET_CONF, conf.data(), conf.size() * 4);
    b.NestEnd(v4);
    size_t v6 = b.NestStart(AF_INET6);
    b.PutU8(IFLA_INET6_ADDR_GEN_MODE, 1);
    b.NestEnd(v6);
    b.NestEnd(af);
    return std::move(b).Finish();
  };
  auto m = build(IPV4_DEVCONF_MAX);
  rtnl::LinkInfo l;
  CHECK(rtnl::DecodeLink(m.data(), m.size(), l));
  CHECK_EQ(l.name, std::string("br-x"));
  CHECK(l.routeLocalnet.has_value());
  CHECK_EQ(*l.routeLocalnet, 1u);
  CHECK(l.addrGenMode.has_value());
  CHECK_EQ(*l.addrGenMode, uint8_t{1});
  auto shortConf = build(IPV4_DEVCONF_ROUTE_LOCALNET - 1);
  rtnl::LinkInfo s;
  CHECK(rtnl::DecodeLink(shortConf.data(), shortConf.size(), s));
  CHECK(!s.routeLocalnet.has_value());
}
