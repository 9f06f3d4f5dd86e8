#include "ip.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>

#include "../nl/error.h"

namespace nk::rtnl {

size_t IpAddr::size() const { return family == AF_INET ? 4 : 16; }

IpAddr ParseIp(const std::string& s) {
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes) == 1) {
    a.family = AF_INET;
  } else if (inet_pton(AF_INET6, s.c_str(), a.bytes) == 1) {
    a.family = AF_INET6;
  } else {
    throw SysError(EINVAL, "inet_pton", "'" + s + "' is not an IP address");
  }
  return a;
}

std::string FormatIp(uint8_t family, const uint8_t* data, size_t len) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET && len >= 4) return inet_ntop(AF_INET, data, buf, sizeof(buf)) ? buf : "";
  if (family == AF_INET6 && len >= 16) return inet_ntop(AF_INET6, data, buf, sizeof(buf)) ? buf : "";
  return "";
}

std::vector<uint8_t> ParseMac(const std::string& s) {
  std::vector<uint8_t> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned v = 0;
    int digits = 0;
    while (i < s.size() && s[i] != ':' && digits < 3) {
      char c = s[i];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) throw SysError(EINVAL, "mac", "'" + s + "' is not a MAC address");
      v = v * 16 + static_cast<unsigned>(d);
      digits++;
      i++;
    }
    if (digits == 0 || digits > 2) throw SysError(EINVAL, "mac", "'" + s + "' is not a MAC address");
    out.push_back(static_cast<uint8_t>(v));
    if (i < s.size()) {
      if (s[i] != ':' || i + 1 == s.size()) throw SysError(EINVAL, "mac", "'" + s + "' is not a MAC address");
      i++;
    }
  }
  if (out.empty()) throw SysError(EINVAL, "mac", "empty MAC address");
  return out;
}

std::string FormatMac(const uint8_t* data, size_t len) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < len; i++) {
    std::snprintf(b, sizeof(b), i ? ":%02x" : "%02x", data[i]);
    s += b;
  }
  return s;
}

}  // namespace nk::rtnl
