// IP address helpers for the rtnetlink encoders (plain C++).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nk::rtnl {

struct IpAddr {
  uint8_t family = 0;  // AF_INET or AF_INET6
  uint8_t bytes[16] = {};
  size_t size() const;
};

// Parses a textual IPv4/IPv6 address; throws SysError(EINVAL) on bad input.
IpAddr ParseIp(const std::string& s);
std::string FormatIp(uint8_t family, const uint8_t* data, size_t len);
// Parses "aa:bb:cc:dd:ee:ff" (any number of octets); throws SysError(EINVAL).
std::vector<uint8_t> ParseMac(const std::string& s);
std::string FormatMac(const uint8_t* data, size_t len);

}  // namespace nk::rtnl
