// Fuzz target for the netlink attribute parser, message splitting, acks, the link/addr/route/neigh
// decoders, the inet_diag decoder (native/diag) and the notification decoder (native/rtnl/monitor):
// LLVMFuzzerTestOneInput, for libFuzzer (clang) or test/fuzz/standalone_driver.cc.
// Run it with scripts/native-fuzz.sh (npm run native:fuzz); the seeds are the kernel's replies
// in test/fixtures/rtnl/ and test/fixtures/diag/.
//
// Besides crashes and sanitizer reports it checks the parser's promises: every attribute it hands
// out lies inside the buffer, and a decoder never accepts a buffer that SplitMessages refuses.
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "diag/sock_diag.h"
#include "nl/attr.h"
#include "nl/socket.h"
#include "rtnl/addr.h"
#include "rtnl/link.h"
#include "rtnl/monitor.h"
#include "rtnl/neigh.h"
#include "rtnl/route.h"

namespace {

using nk::nl::Attr;
using nk::nl::AttrIter;

void Require(bool cond) {
  if (!cond) std::abort();
}

// Walks attributes and, when a payload looks like attributes itself, its nests (bounded depth),
// touching every getter.
void Walk(const uint8_t* begin, const uint8_t* end, int depth) {
  AttrIter it(begin, static_cast<size_t>(end - begin));
  Attr a;
  size_t sum = 0;
  while (it.Next(a)) {
    Require(a.data >= begin && a.data + a.len <= end);
    sum += a.U8().value_or(0) + a.U16().value_or(0) + a.U32().value_or(0) + a.U64().value_or(0);
    sum += a.Be16().value_or(0) + a.Be32().value_or(0) + a.Be64().value_or(0);
    sum += a.Str().size() + a.Bytes().size();
    if (depth < 4 && a.len >= NLA_HDRLEN) Walk(a.data, a.data + a.len, depth + 1);
  }
  volatile size_t sink = sum;
  (void)sink;
}

void Decode(const uint8_t* p, size_t len, bool splitOk) {
  nk::rtnl::LinkInfo l;
  nk::rtnl::AddrInfo a;
  nk::rtnl::RouteInfo r;
  nk::rtnl::NeighInfo n;
  nk::diag::SockInfo sock;
  nk::rtnl::Event ev;
  bool any = nk::rtnl::DecodeLink(p, len, l) | nk::rtnl::DecodeAddr(p, len, a) | nk::rtnl::DecodeRoute(p, len, r) |
             nk::rtnl::DecodeNeigh(p, len, n);
  any |= nk::diag::DecodeSock(p, len, IPPROTO_TCP, sock);
  any |= nk::rtnl::DecodeEvent(p, len, ev) == nk::rtnl::DecodeResult::Event;
  if (any) Require(splitOk);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An aligned copy, as every caller has (receive buffers and the addon's copies are vectors).
  std::vector<uint8_t> buf(data, data + size);
  const uint8_t* p = buf.data();

  Walk(p, p + size, 0);
  std::vector<std::optional<Attr>> tb;
  nk::nl::ParseTable(p, size, tb, 64);

  std::vector<nk::nl::MsgView> views;
  bool split = nk::nl::SplitMessages(p, size, views);
  for (const auto& v : views) {
    Require(v.payload + v.payloadLen <= p + size);
    for (size_t fam :
         {size_t{0}, sizeof(ifinfomsg), sizeof(ifaddrmsg), sizeof(rtmsg), sizeof(ndmsg), sizeof(inet_diag_msg)}) {
      const uint8_t* attrs = nullptr;
      size_t alen = 0;
      if (nk::nl::MessageAttrs(v, fam, &attrs, &alen)) {
        Require(attrs + alen <= p + size);
        Walk(attrs, attrs + alen, 0);
      }
    }
    std::string extack;
    for (uint16_t flags : {uint16_t{0}, uint16_t{0x100}, uint16_t{0x200}, uint16_t{0x300}, v.hdr->nlmsg_flags}) {
      nk::nl::ParseAck(v.payload, v.payloadLen, flags, false, &extack);
      nk::nl::ParseAck(v.payload, v.payloadLen, flags, true, &extack);
    }
  }

  Decode(p, size, split && views.size() == 1);
  // The decoders check the message type first: also try the input as each of their types.
  if (size >= sizeof(nlmsghdr)) {
    for (uint16_t type : {uint16_t{RTM_NEWLINK}, uint16_t{RTM_NEWADDR}, uint16_t{RTM_NEWROUTE}, uint16_t{RTM_NEWNEIGH},
                          uint16_t{RTM_DELLINK}, uint16_t{RTM_DELADDR}, uint16_t{RTM_DELROUTE}, uint16_t{RTM_DELNEIGH},
                          uint16_t{SOCK_DIAG_BY_FAMILY}}) {
      std::vector<uint8_t> typed = buf;
      std::memcpy(typed.data() + offsetof(nlmsghdr, nlmsg_type), &type, sizeof(type));
      std::vector<nk::nl::MsgView> tv;
      bool ok = nk::nl::SplitMessages(typed.data(), typed.size(), tv) && tv.size() == 1;
      Decode(typed.data(), typed.size(), ok);
    }
  }
  return 0;
}
