#include "addr.h"

#include <linux/if_addr.h>
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

ifaddrmsg Header(const AddrSpec& s) {
  ifaddrmsg h{};
  h.ifa_family = s.addr.family;
  h.ifa_prefixlen = s.prefixLen;
  h.ifa_index = static_cast<uint32_t>(s.index);
  h.ifa_scope = RT_SCOPE_UNIVERSE;
  return h;
}

}  // namespace

std::vector<uint8_t> EncodeNewAddr(const AddrSpec& s) {
  MsgBuilder b(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (s.replace ? NLM_F_REPLACE : NLM_F_EXCL));
  ifaddrmsg h = Header(s);
  if (s.addr.family == AF_INET && s.addr.bytes[0] == 127) h.ifa_scope = RT_SCOPE_HOST;
  if (s.addr.family == AF_INET6 && s.addr.bytes[0] == 0xfe && (s.addr.bytes[1] & 0xc0) == 0x80)
    h.ifa_scope = RT_SCOPE_LINK;
  if (s.addr.family == AF_INET6 && std::memcmp(s.addr.bytes, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0)
    h.ifa_scope = RT_SCOPE_HOST;
  if (s.nodad) h.ifa_flags = IFA_F_NODAD;
  b.PutHeader(h);
  b.Put(IFA_LOCAL, s.addr.bytes, s.addr.size());
  b.Put(IFA_ADDRESS, s.addr.bytes, s.addr.size());
  if (s.addr.family == AF_INET && s.prefixLen < 31) {
    // The broadcast address of the subnet, as `ip addr add ... brd +` and Docker set it.
    uint8_t brd[4];
    std::memcpy(brd, s.addr.bytes, 4);
    uint32_t host = s.prefixLen == 0 ? 0xffffffffu : (0xffffffffu >> s.prefixLen);
    for (int i = 0; i < 4; i++) brd[i] |= static_cast<uint8_t>(host >> (24 - 8 * i));
    b.Put(IFA_BROADCAST, brd, 4);
  }
  if (s.nodad) b.PutU32(IFA_FLAGS, IFA_F_NODAD);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDelAddr(const AddrSpec& s) {
  MsgBuilder b(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK);
  ifaddrmsg h = Header(s);
  h.ifa_scope = 0;
  b.PutHeader(h);
  b.Put(IFA_LOCAL, s.addr.bytes, s.addr.size());
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDumpAddrs(uint8_t family, int32_t index) {
  MsgBuilder b(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
  ifaddrmsg h{};
  h.ifa_family = family;
  h.ifa_index = static_cast<uint32_t>(index);
  b.PutHeader(h);
  return std::move(b).Finish();
}

bool DecodeAddr(const uint8_t* msg, size_t len, AddrInfo& out) {
  std::vector<nl::MsgView> views;
  if (!nl::SplitMessages(msg, len, views) || views.size() != 1) return false;
  const nl::MsgView& m = views[0];
  if (m.hdr->nlmsg_type != RTM_NEWADDR) return false;
  const uint8_t* attrs;
  size_t alen;
  if (!nl::MessageAttrs(m, sizeof(ifaddrmsg), &attrs, &alen)) return false;
  ifaddrmsg h;
  std::memcpy(&h, m.payload, sizeof(h));
  out.index = static_cast<int32_t>(h.ifa_index);
  out.family = h.ifa_family;
  out.prefixLen = h.ifa_prefixlen;
  out.scope = h.ifa_scope;
  out.flags = h.ifa_flags;
  std::string local, address;
  AttrIter it(attrs, alen);
  Attr a;
  while (it.Next(a)) {
    switch (a.type) {
      case IFA_LOCAL:
        local = FormatIp(h.ifa_family, a.data, a.len);
        break;
      case IFA_ADDRESS:
        address = FormatIp(h.ifa_family, a.data, a.len);
        break;
      case IFA_BROADCAST:
        out.broadcast = FormatIp(h.ifa_family, a.data, a.len);
        break;
      case IFA_LABEL:
        out.label = a.Str();
        break;
      case IFA_FLAGS:
        if (auto v = a.U32()) out.flags = *v;
        break;
      default:
        break;
    }
  }
  out.address = local.empty() ? address : local;
  if (!local.empty() && !address.empty() && address != local) out.peer = address;
  return it.ok();
}

}  // namespace nk::rtnl
