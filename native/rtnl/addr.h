// rtnetlink addresses: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ip.h"

namespace nk::rtnl {

struct AddrSpec {
  int32_t index = 0;
  IpAddr addr;
  uint8_t prefixLen = 0;
  bool nodad = false;
  bool replace = false;  // NLM_F_REPLACE instead of NLM_F_EXCL
};

struct AddrInfo {
  int32_t index = 0;
  uint8_t family = 0;
  uint8_t prefixLen = 0;
  uint8_t scope = 0;
  uint32_t flags = 0;   // IFA_F_* (IFA_FLAGS when present)
  std::string address;  // IFA_LOCAL (or IFA_ADDRESS)
  std::string peer;     // IFA_ADDRESS when it differs from IFA_LOCAL
  std::string broadcast;
  std::string label;
};

std::vector<uint8_t> EncodeNewAddr(const AddrSpec& s);
std::vector<uint8_t> EncodeDelAddr(const AddrSpec& s);
// family 0: both; index 0: every link (strict dump filtering by ifa_index otherwise).
std::vector<uint8_t> EncodeDumpAddrs(uint8_t family, int32_t index);
bool DecodeAddr(const uint8_t* msg, size_t len, AddrInfo& out);

}  // namespace nk::rtnl
