// The kernel's own messages (the replies in test/fixtures/rtnl/, captured with strace from
// iproute2 sessions) through SplitMessages, the decoders and ParseAck, whole and cut short.
// Under scripts/native-asan.sh this runs the parsers on real kernel data with ASan and UBSan.
#include <dirent.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "check.h"
#include "nl/attr.h"
#include "nl/socket.h"
#include "rtnl/addr.h"
#include "rtnl/link.h"
#include "rtnl/neigh.h"
#include "rtnl/route.h"

namespace {

// Every datagram strace dumped in one capture file (" * N bytes in buffer K" then hex lines).
std::vector<std::vector<uint8_t>> Datagrams(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<uint8_t>> out;
  std::string line;
  bool inDump = false;
  while (std::getline(in, line)) {
    if (line.rfind(" * ", 0) == 0 && line.find(" bytes in buffer ") != std::string::npos) {
      out.emplace_back();
      inDump = true;
    } else if (inDump && line.rfind(" | ", 0) == 0 && line.size() > 10) {
      auto bytes = nk::test::Hex(line.substr(10, 48));
      out.back().insert(out.back().end(), bytes.begin(), bytes.end());
    } else {
      inDump = false;
    }
  }
  return out;
}

std::vector<std::string> Captures() {
  std::vector<std::string> files;
  if (DIR* d = opendir(NK_FIXTURES)) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".txt") == 0) files.push_back(std::string(NK_FIXTURES) + "/" + n);
    }
    closedir(d);
  }
  return files;
}

// Decodes one message by type; returns whether it was understood.
bool DecodeOne(const uint8_t* p, size_t len) {
  if (len < sizeof(nlmsghdr)) {  // too short to tell the type: every decoder must refuse it
    nk::rtnl::LinkInfo l;
    nk::rtnl::AddrInfo a;
    nk::rtnl::RouteInfo r;
    nk::rtnl::NeighInfo n;
    return nk::rtnl::DecodeLink(p, len, l) || nk::rtnl::DecodeAddr(p, len, a) || nk::rtnl::DecodeRoute(p, len, r) ||
           nk::rtnl::DecodeNeigh(p, len, n);
  }
  nlmsghdr h;
  std::memcpy(&h, p, sizeof(h));
  switch (h.nlmsg_type) {
    case RTM_NEWLINK: {
      nk::rtnl::LinkInfo l;
      return nk::rtnl::DecodeLink(p, len, l);
    }
    case RTM_NEWADDR: {
      nk::rtnl::AddrInfo a;
      return nk::rtnl::DecodeAddr(p, len, a);
    }
    case RTM_NEWROUTE: {
      nk::rtnl::RouteInfo r;
      return nk::rtnl::DecodeRoute(p, len, r);
    }
    case RTM_NEWNEIGH: {
      nk::rtnl::NeighInfo n;
      return nk::rtnl::DecodeNeigh(p, len, n);
    }
    default:
      return false;
  }
}

}  // namespace

TEST(fixtures_every_kernel_message_decodes_and_every_truncation_is_refused) {
  auto files = Captures();
  CHECK(files.size() >= 20);
  size_t decoded = 0, acks = 0;
  for (const auto& f : files) {
    for (const auto& dg : Datagrams(f)) {
      std::vector<nk::nl::MsgView> views;
      if (!nk::nl::SplitMessages(dg.data(), dg.size(), views)) continue;  // requests padded by iproute2
      for (const auto& v : views) {
        const auto* p = reinterpret_cast<const uint8_t*>(v.hdr);
        std::vector<uint8_t> msg(p, p + v.hdr->nlmsg_len);
        if (v.hdr->nlmsg_type == NLMSG_ERROR || v.hdr->nlmsg_type == NLMSG_DONE) {
          std::string extack;
          int err =
              nk::nl::ParseAck(v.payload, v.payloadLen, v.hdr->nlmsg_flags, v.hdr->nlmsg_type == NLMSG_DONE, &extack);
          CHECK(err >= 0);
          acks++;
          continue;
        }
        if (v.hdr->nlmsg_type != RTM_NEWLINK && v.hdr->nlmsg_type != RTM_NEWADDR && v.hdr->nlmsg_type != RTM_NEWROUTE &&
            v.hdr->nlmsg_type != RTM_NEWNEIGH)
          continue;
        // Requests of these types (iproute2's RTM_NEWLINK...) are messages too: they decode.
        if (!DecodeOne(msg.data(), msg.size())) {
          nk::test::Fail(__FILE__, __LINE__, "could not decode a message in " + f);
          continue;
        }
        decoded++;
        for (size_t n = 0; n < msg.size(); n++) {
          // Cut short with nlmsg_len still claiming the whole: always refused.
          std::vector<uint8_t> cut(msg.begin(), msg.begin() + static_cast<long>(n));
          if (DecodeOne(cut.data(), cut.size()))
            nk::test::Fail(__FILE__, __LINE__, "a truncated message decoded: " + f);
          // Cut short with nlmsg_len saying so: refused, or (at an attribute boundary) a shorter
          // valid message. Either way nothing is read past the end (the sanitizers watch).
          if (n >= sizeof(nlmsghdr)) {
            uint32_t len = static_cast<uint32_t>(n);
            std::memcpy(cut.data(), &len, 4);
            DecodeOne(cut.data(), cut.size());
          }
        }
      }
    }
  }
  CHECK(decoded >= 30);
  CHECK(acks >= 20);
}
