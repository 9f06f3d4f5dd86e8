// rtnetlink routes: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ip.h"

namespace nk::rtnl {

struct RouteSpec {
  uint8_t family = 0;
  std::optional<IpAddr> dst;  // absent: default route
  uint8_t dstLen = 0;
  std::optional<IpAddr> gateway;
  int32_t oif = 0;
  std::optional<uint32_t> metric;
  uint32_t table = 254;  // RT_TABLE_MAIN
  std::optional<IpAddr> prefsrc;
  uint8_t protocol = 3;  // RTPROT_BOOT, as `ip route add`
  std::optional<uint8_t> scope;
  uint8_t type = 1;  // RTN_UNICAST
};

struct RouteInfo {
  uint8_t family = 0;
  std::string dst;  // "" for default
  uint8_t dstLen = 0;
  std::string gateway;
  int32_t oif = 0;
  std::optional<uint32_t> metric;
  uint32_t table = 0;
  std::string prefsrc;
  uint8_t protocol = 0, scope = 0, type = 0;
  uint32_t flags = 0;
};

// mode: 0 add (NLM_F_EXCL), 1 replace (NLM_F_REPLACE)
std::vector<uint8_t> EncodeNewRoute(const RouteSpec& s, bool replace);
std::vector<uint8_t> EncodeDelRoute(const RouteSpec& s);
std::vector<uint8_t> EncodeDumpRoutes(uint8_t family);
bool DecodeRoute(const uint8_t* msg, size_t len, RouteInfo& out);

}  // namespace nk::rtnl
