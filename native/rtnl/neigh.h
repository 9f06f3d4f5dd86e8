// rtnetlink neighbours: RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH, for both the ARP/NDP
// tables (AF_INET, AF_INET6: `ip neigh`) and the forwarding databases of bridges and vxlan
// devices (AF_BRIDGE: `bridge fdb`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ip.h"

namespace nk::rtnl {

// How RTM_NEWNEIGH treats an existing entry, as iproute2's verbs:
//   Add      NLM_F_CREATE|NLM_F_EXCL     (`ip neigh add`, `bridge fdb add`): EEXIST if present
//   Replace  NLM_F_CREATE|NLM_F_REPLACE  (`ip neigh replace`, `bridge fdb replace`)
//   Append   NLM_F_CREATE|NLM_F_APPEND   (`bridge fdb append`: one more destination for a vxlan
//                                         entry, as the all-zeros MAC's flood list)
enum class NeighMode { Add, Replace, Append };

struct NeighSpec {
  uint8_t family = 0;                          // AF_BRIDGE (FDB), AF_INET or AF_INET6 (neighbours)
  int32_t index = 0;                           // ndm_ifindex: the device (bridge port, vxlan, ...)
  uint16_t state = 0;                          // ndm_state: NUD_PERMANENT, NUD_NOARP, NUD_REACHABLE...
  uint8_t flags = 0;                           // ndm_flags: NTF_SELF, NTF_MASTER, NTF_ROUTER...
  std::optional<std::vector<uint8_t>> lladdr;  // NDA_LLADDR: the MAC
  std::optional<IpAddr> dst;                   // NDA_DST: the neighbour's IP, or a vxlan entry's remote VTEP
  std::optional<uint16_t> vlan;                // NDA_VLAN (bridge)
  std::optional<uint16_t> port;                // NDA_PORT (vxlan; sent big-endian)
  std::optional<uint32_t> vni;                 // NDA_VNI (vxlan)
  std::optional<uint32_t> via;                 // NDA_IFINDEX (vxlan: the underlay device for this entry)
};

struct NeighInfo {
  uint8_t family = 0;
  int32_t index = 0;
  uint16_t state = 0;
  uint8_t flags = 0;
  uint8_t type = 0;
  std::string lladdr;  // "" when absent (an incomplete neighbour)
  std::string dst;     // "" when absent
  std::optional<uint16_t> vlan, port;
  std::optional<uint32_t> vni, via, srcVni;
  std::optional<int32_t> master;  // NDA_MASTER: the bridge holding this FDB entry
};

std::vector<uint8_t> EncodeNewNeigh(const NeighSpec& s, NeighMode mode);
std::vector<uint8_t> EncodeDelNeigh(const NeighSpec& s);
// AF_BRIDGE: the FDB entries of `index` (0: every device), as `bridge fdb show [dev DEV]`.
// AF_INET/AF_INET6/AF_UNSPEC: the neighbour tables, filtered by NDA_IFINDEX as `ip neigh show
// [dev DEV]` (a strict-checking socket refuses ndm_ifindex in such a dump).
std::vector<uint8_t> EncodeDumpNeighs(uint8_t family, int32_t index);
// Decodes an RTM_NEWNEIGH message (whole, with nlmsghdr). False if malformed.
bool DecodeNeigh(const uint8_t* msg, size_t len, NeighInfo& out);

}  // namespace nk::rtnl
