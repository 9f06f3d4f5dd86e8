// rtnetlink links: RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK encoders and the link decoder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../nl/socket.h"
#include "ip.h"

namespace nk::rtnl {

struct VethPeerSpec {
  std::string name;
  int nsFd = -1;  // IFLA_NET_NS_FD: the peer is created directly inside this namespace
  std::optional<uint32_t> mtu;
  std::optional<std::vector<uint8_t>> mac;
  // No `up` here: the kernel opens a new veth end before its peer is linked, so IFF_UP on
  // the peer fails with ENOTCONN. Bring the peer up with a second message.
};

// IFLA_INFO_DATA of a new vxlan link (IFLA_VXLAN_*). Only what is set is sent, except the
// ID, the destination port and learning, which a create always carries.
struct VxlanSpec {
  uint32_t vni = 0;                 // IFLA_VXLAN_ID (24 bits)
  std::optional<IpAddr> local;      // IFLA_VXLAN_LOCAL / LOCAL6
  std::optional<IpAddr> remote;     // IFLA_VXLAN_GROUP / GROUP6: a unicast peer or a multicast group
  uint16_t port = 4789;             // IFLA_VXLAN_PORT (sent big-endian); the kernel's own default is 8472
  std::optional<uint32_t> link;     // IFLA_VXLAN_LINK: the underlay device
  bool learning = false;            // IFLA_VXLAN_LEARNING
  std::optional<uint8_t> ttl, tos;  // IFLA_VXLAN_TTL, IFLA_VXLAN_TOS (1: inherit)
  std::optional<uint32_t> ageing;   // IFLA_VXLAN_AGEING, seconds
  std::optional<bool> proxy, l2miss, l3miss, udpCsum;
};

// One change to a link, or the description of a new one (kind set, create = true).
struct LinkSpec {
  int32_t index = 0;  // the link to change (0: by name / a new link)
  std::string name;   // IFLA_IFNAME: new link's name, lookup name, or new name (rename)
  std::string kind;   // IFLA_INFO_KIND for a new link: "veth", "bridge", ...
  std::optional<uint32_t> mtu;
  std::optional<std::vector<uint8_t>> mac;
  std::optional<bool> up;
  std::optional<int32_t> master;        // ifindex of the master; 0 detaches
  std::optional<std::string> alias;     // IFLA_IFALIAS ("" clears)
  int nsFd = -1;                        // IFLA_NET_NS_FD: move into (or create in) this namespace
  std::optional<VethPeerSpec> peer;     // kind "veth"
  std::optional<bool> stp;              // kind "bridge": IFLA_BR_STP_STATE
  std::optional<bool> vlanFiltering;    // kind "bridge": IFLA_BR_VLAN_FILTERING
  std::optional<bool> hairpin;          // bridge port: IFLA_BRPORT_MODE
  std::optional<bool> isolated;         // bridge port: IFLA_BRPORT_ISOLATED
  int32_t link = 0;                     // IFLA_LINK: the lower device (macvlan), in the sender's namespace
  std::optional<uint32_t> macvlanMode;  // kind "macvlan": IFLA_MACVLAN_MODE (MACVLAN_MODE_*)
  std::optional<VxlanSpec> vxlan;       // kind "vxlan"
  std::optional<uint32_t> group;        // IFLA_GROUP: the link group (`ip link ... group N`)
};

struct VxlanInfo {
  uint32_t vni = 0;
  std::string local, remote;  // "" when unset; remote may be a multicast group
  uint16_t port = 0;
  uint32_t link = 0;
  bool learning = true, proxy = false, l2miss = false, l3miss = false, udpCsum = false;
  uint8_t ttl = 0, tos = 0;
  uint32_t ageing = 0;
};

struct LinkInfo {
  int32_t index = 0;
  std::string name;
  std::string kind;       // IFLA_INFO_KIND ("" for physical/loopback)
  std::string slaveKind;  // IFLA_INFO_SLAVE_KIND ("bridge" for a bridge port)
  uint32_t mtu = 0;
  std::vector<uint8_t> mac;
  uint32_t flags = 0;     // ifi_flags (IFF_UP, IFF_LOWER_UP...)
  uint8_t operState = 0;  // IF_OPER_*
  int32_t master = 0;
  int32_t link = 0;  // IFLA_LINK (veth peer's ifindex)
  std::optional<int32_t> linkNetnsId;
  std::string alias;
  uint16_t type = 0;                       // ifi_type (ARPHRD_*)
  std::optional<bool> stp, vlanFiltering;  // bridge
  std::optional<bool> hairpin, isolated;   // bridge port
  std::optional<uint32_t> macvlanMode;     // macvlan: MACVLAN_MODE_*
  std::optional<VxlanInfo> vxlan;          // vxlan
  uint32_t group = 0;                      // IFLA_GROUP (0: the default group)
  // IFLA_AF_SPEC: AF_INET's IFLA_INET_CONF[IPV4_DEVCONF_ROUTE_LOCALNET] (the device's
  // net.ipv4.conf.DEV.route_localnet, read without /proc/sys) and AF_INET6's addr_gen_mode.
  std::optional<uint32_t> routeLocalnet;
  std::optional<uint8_t> addrGenMode;
};

// create: NLM_F_CREATE|NLM_F_EXCL with IFLA_LINKINFO; otherwise a change of an existing link.
std::vector<uint8_t> EncodeNewLink(const LinkSpec& s, bool create);
// A second message for the bridge-port flags of `s` (IFLA_INFO_SLAVE_DATA), or empty when none.
std::vector<uint8_t> EncodeBridgePort(const LinkSpec& s);
std::vector<uint8_t> EncodeDelLink(int32_t index, const std::string& name);
// `ip link delete group N`: RTM_DELLINK with ifi_index 0 and IFLA_GROUP. The kernel deletes every
// link of the group in the namespace at once (one unregister batch, one RCU grace period); it
// refuses group 0 (EPERM) and answers ENODEV when no link is in the group.
std::vector<uint8_t> EncodeDelLinkGroup(uint32_t group);
std::vector<uint8_t> EncodeGetLink(int32_t index, const std::string& name);
std::vector<uint8_t> EncodeDumpLinks();
// Decodes an RTM_NEWLINK message (whole, with nlmsghdr). False if malformed, nests included.
bool DecodeLink(const uint8_t* msg, size_t len, LinkInfo& out);

}  // namespace nk::rtnl
