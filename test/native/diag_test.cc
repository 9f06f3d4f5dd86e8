// native/diag: the inet_diag requests against what `ss` sends (test/fixtures/diag/, captured with
// strace by scripts/capture-diag-fixtures.sh; sequence numbers zeroed, ss's uninitialised padding
// in the host condition masked), and the decoder on the kernel's replies from the same captures,
// whole, cut short, and with lying lengths.
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>

#include "check.h"
#include "diag/sock_diag.h"
#include "nl/attr.h"
#include "nl/error.h"

using nk::test::Hex;
namespace diag = nk::diag;

namespace {

const std::string kDiagFixtures = std::string(NK_FIXTURES) + "/../diag";

// Every datagram of one capture, in order ("* N bytes in buffer K" starts a buffer; buffers of
// one sendmsg call are concatenated, as the kernel reads them).
struct Datagram {
  bool sent;
  std::vector<uint8_t> bytes;
};
std::vector<Datagram> Read(const std::string& name) {
  std::ifstream in(kDiagFixtures + "/" + name + ".txt");
  CHECK(in.good());
  std::vector<Datagram> out;
  std::string line;
  bool inCall = false;
  while (std::getline(in, line)) {
    if (line.rfind("sendmsg(", 0) == 0 || line.rfind("recvmsg(", 0) == 0) {
      out.push_back({line[0] == 's', {}});
      inCall = true;
    } else if (inCall && line.rfind(" | ", 0) == 0 && line.size() > 10) {
      auto b = Hex(line.substr(10, 48));
      out.back().bytes.insert(out.back().bytes.end(), b.begin(), b.end());
    } else if (line.rfind(" * ", 0) != 0) {
      inCall = false;
    }
  }
  std::vector<Datagram> nonEmpty;
  for (auto& d : out)
    if (!d.bytes.empty()) nonEmpty.push_back(std::move(d));
  return nonEmpty;
}

std::vector<uint8_t> Masked(std::vector<uint8_t> m) {
  if (m.size() >= sizeof(nlmsghdr)) std::memset(m.data() + offsetof(nlmsghdr, nlmsg_seq), 0, 8);  // seq, pid
  return m;
}

// The requests of a capture, masked.
std::vector<std::vector<uint8_t>> Sent(const std::string& name) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& d : Read(name))
    if (d.sent) out.push_back(Masked(d.bytes));
  return out;
}

// Every SOCK_DIAG_BY_FAMILY message the kernel sent in a capture.
std::vector<std::vector<uint8_t>> Replies(const std::string& name) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& d : Read(name)) {
    if (d.sent) continue;
    std::vector<nk::nl::MsgView> views;
    CHECK(nk::nl::SplitMessages(d.bytes.data(), d.bytes.size(), views));
    for (const auto& v : views) {
      if (v.hdr->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      const auto* p = reinterpret_cast<const uint8_t*>(v.hdr);
      out.emplace_back(p, p + v.hdr->nlmsg_len);
    }
  }
  return out;
}

diag::Query Q(uint8_t family, uint8_t protocol) {
  diag::Query q;
  q.family = family;
  q.protocol = protocol;
  q.states = diag::kListeningStates;
  return q;
}

// The 2 padding bytes of inet_diag_hostcond (after family and prefix_len): ss leaves them as
// malloc gave them.
constexpr size_t kHostcondPad = sizeof(nlmsghdr) + sizeof(inet_diag_req_v2) + NLA_HDRLEN + sizeof(inet_diag_bc_op) + 2;

}  // namespace

TEST(diag_encode_listing_matches_ss) {
  auto ss = Sent("tcp-listen");
  CHECK_EQ(ss.size(), size_t{2});
  CHECK_EQ(diag::EncodeDump(Q(AF_INET, IPPROTO_TCP)), ss[0]);
  CHECK_EQ(diag::EncodeDump(Q(AF_INET6, IPPROTO_TCP)), ss[1]);
  // The bytes themselves: header (SOCK_DIAG_BY_FAMILY, REQUEST|DUMP), inet_diag_req_v2 with
  // LISTEN|CLOSE, no bytecode.
  CHECK_EQ(diag::EncodeDump(Q(AF_INET, IPPROTO_TCP)),
           Hex("48 00 00 00 14 00 01 03 00 00 00 00 00 00 00 00 02 06 00 00 80 04 00 00" + std::string(96, '0')));
  auto udp = Sent("udp-unconn");
  CHECK_EQ(udp.size(), size_t{2});
  CHECK_EQ(diag::EncodeDump(Q(AF_INET, IPPROTO_UDP)), udp[0]);
  CHECK_EQ(diag::EncodeDump(Q(AF_INET6, IPPROTO_UDP)), udp[1]);
  auto sctp = Sent("sctp-listen");
  CHECK_EQ(sctp.size(), size_t{1});  // ss gave up after the kernel's ENOENT
  CHECK_EQ(diag::EncodeDump(Q(AF_INET, IPPROTO_SCTP)), sctp[0]);
}

TEST(diag_encode_port_filter_matches_ss_sport_eq) {
  for (const char* name : {"tcp-listen-sport", "udp-unconn-sport"}) {
    auto ss = Sent(name);
    CHECK_EQ(ss.size(), size_t{2});
    bool tcp = std::string(name).rfind("tcp", 0) == 0;
    uint16_t port = tcp ? 8080 : 5353;
    for (size_t i = 0; i < 2; i++) {
      diag::Query q = Q(i == 0 ? AF_INET : AF_INET6, tcp ? IPPROTO_TCP : IPPROTO_UDP);
      q.port = port;
      auto ours = diag::EncodeDump(q);
      CHECK_EQ(ours.size(), ss[i].size());
      CHECK_EQ(int{ours[kHostcondPad]}, 0);
      CHECK_EQ(int{ours[kHostcondPad + 1]}, 0);
      auto theirs = ss[i];
      theirs[kHostcondPad] = theirs[kHostcondPad + 1] = 0;
      CHECK_EQ(ours, theirs);
    }
  }
  // S_COND, yes 16 (the end), no 20 (reject); family 0, prefix 0, port 8080; 4 address bytes.
  CHECK_EQ(diag::PortBytecode(8080), Hex("07 10 14 00 00 00 00 00 90 1f 00 00 00 00 00 00"));
}

TEST(diag_encode_port_range_matches_ss) {
  auto ss = Sent("tcp-listen-sport-range");
  CHECK_EQ(ss.size(), size_t{2});
  for (size_t i = 0; i < 2; i++) {
    diag::Query q = Q(i == 0 ? AF_INET : AF_INET6, IPPROTO_TCP);
    q.portFirst = 8000;
    q.portLast = 8100;
    CHECK_EQ(diag::EncodeDump(q), ss[i]);
  }
  CHECK_EQ(diag::PortRangeBytecode(8000, 8100), Hex("02 08 14 00 00 00 40 1f 03 08 0c 00 00 00 a4 1f"));
}

TEST(diag_encode_refuses_what_inet_diag_cannot_dump) {
  CHECK_THROWS(diag::EncodeDump(Q(AF_UNSPEC, IPPROTO_TCP)));
  CHECK_THROWS(diag::EncodeDump(Q(AF_INET, IPPROTO_ICMP)));
  diag::Query both = Q(AF_INET, IPPROTO_TCP);
  both.port = 1;
  both.portFirst = 1;
  both.portLast = 2;
  CHECK_THROWS(diag::EncodeDump(both));
  diag::Query backwards = Q(AF_INET, IPPROTO_TCP);
  backwards.portFirst = 10;
  backwards.portLast = 9;
  CHECK_THROWS(diag::EncodeDump(backwards));
  diag::Query half = Q(AF_INET, IPPROTO_TCP);
  half.portFirst = 10;
  CHECK_THROWS(diag::EncodeDump(half));
}

TEST(diag_decode_the_kernels_replies) {
  // tcp-listen: 127.0.0.1:8080; [::1]:8082 v6only; [::]:8081 dual-stack.
  auto tcp = Replies("tcp-listen");
  CHECK_EQ(tcp.size(), size_t{3});
  bool saw8080 = false, saw8081 = false, saw8082 = false;
  for (const auto& m : tcp) {
    diag::SockInfo s;
    CHECK(diag::DecodeSock(m.data(), m.size(), IPPROTO_TCP, s));
    CHECK_EQ(int{s.state}, int{diag::kTcpListen});
    CHECK_EQ(int{s.protocol}, IPPROTO_TCP);
    CHECK(s.inode != 0);
    CHECK(s.peer.empty());
    CHECK_EQ(s.wqueue, 5u);  // socat's backlog
    if (s.port == 8080) {
      saw8080 = true;
      CHECK_EQ(int{s.family}, AF_INET);
      CHECK_EQ(s.address, std::string("127.0.0.1"));
      CHECK(!s.v6only.has_value());
    } else if (s.port == 8081) {
      saw8081 = true;
      CHECK_EQ(s.address, std::string("::"));
      CHECK(!s.v6only.value_or(true));
    } else if (s.port == 8082) {
      saw8082 = true;
      CHECK_EQ(s.address, std::string("::1"));
      CHECK(s.v6only.value_or(false));
    }
  }
  CHECK(saw8080 && saw8081 && saw8082);

  auto udp = Replies("udp-unconn");
  CHECK_EQ(udp.size(), size_t{2});
  for (const auto& m : udp) {
    diag::SockInfo s;
    CHECK(diag::DecodeSock(m.data(), m.size(), IPPROTO_UDP, s));
    CHECK_EQ(int{s.state}, int{diag::kTcpClose});
    if (s.port == 5353) {
      CHECK_EQ(s.address, std::string("0.0.0.0"));
    } else {
      CHECK_EQ(s.port, uint16_t{5354});
      CHECK_EQ(s.address, std::string("::"));
      CHECK(s.v6only.value_or(false));
    }
  }
  // The filtered dumps answered with the filtered sockets only.
  auto one = Replies("tcp-listen-sport");
  CHECK_EQ(one.size(), size_t{1});
  diag::SockInfo s;
  CHECK(diag::DecodeSock(one[0].data(), one[0].size(), IPPROTO_TCP, s));
  CHECK_EQ(s.port, uint16_t{8080});
  CHECK_EQ(Replies("tcp-listen-sport-range").size(), size_t{3});
  CHECK_EQ(Replies("udp-unconn-sport").size(), size_t{1});
  CHECK_EQ(Replies("sctp-listen").size(), size_t{0});
}

TEST(diag_decode_refuses_truncated_lying_and_foreign_messages) {
  size_t checked = 0;
  for (const char* name : {"tcp-listen", "udp-unconn"}) {
    for (const auto& m : Replies(name)) {
      diag::SockInfo s;
      for (size_t n = 0; n < m.size(); n++) {
        std::vector<uint8_t> cut(m.begin(), m.begin() + static_cast<long>(n));
        CHECK(!diag::DecodeSock(cut.data(), cut.size(), IPPROTO_TCP, s));
        if (n >= sizeof(nlmsghdr)) {  // nlmsg_len saying so: refused, or a shorter valid message
          uint32_t len = static_cast<uint32_t>(n);
          std::memcpy(cut.data(), &len, 4);
          bool ok = diag::DecodeSock(cut.data(), cut.size(), IPPROTO_TCP, s);
          if (n < sizeof(nlmsghdr) + sizeof(inet_diag_msg)) CHECK(!ok);
        }
      }
      // every attribute length set to bad values
      for (size_t off = sizeof(nlmsghdr) + sizeof(inet_diag_msg); off + 4 <= m.size();) {
        uint16_t len;
        std::memcpy(&len, m.data() + off, 2);
        for (uint16_t bad : {uint16_t{0}, uint16_t{3}, static_cast<uint16_t>(m.size() - off + 1)}) {
          auto c = m;
          std::memcpy(c.data() + off, &bad, 2);
          CHECK(!diag::DecodeSock(c.data(), c.size(), IPPROTO_TCP, s));
        }
        off += nk::nl::Align(len);
      }
      // another message type, another family
      auto other = m;
      uint16_t type = 18;  // RTM_GETLINK
      std::memcpy(other.data() + offsetof(nlmsghdr, nlmsg_type), &type, 2);
      CHECK(!diag::DecodeSock(other.data(), other.size(), IPPROTO_TCP, s));
      auto fam = m;
      fam[sizeof(nlmsghdr)] = AF_UNIX;
      CHECK(!diag::DecodeSock(fam.data(), fam.size(), IPPROTO_TCP, s));
      auto twice = m;
      twice.insert(twice.end(), m.begin(), m.end());
      CHECK(!diag::DecodeSock(twice.data(), twice.size(), IPPROTO_TCP, s));
      checked++;
    }
  }
  CHECK_EQ(checked, size_t{5});
}

TEST(diag_decode_sctp_locals_and_protocol_attribute) {
  nk::nl::MsgBuilder b(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI);
  inet_diag_msg r{};
  r.idiag_family = AF_INET6;
  r.idiag_state = diag::kTcpListen;
  r.id.idiag_sport = htons(9899);
  r.idiag_inode = 4242;
  r.idiag_uid = 1000;
  r.id.idiag_if = 3;
  b.PutHeader(r);
  std::vector<uint8_t> locals(2 * sizeof(sockaddr_storage), 0);
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(9899);
  v4.sin_addr.s_addr = htonl(0x0a000001);
  std::memcpy(locals.data(), &v4, sizeof(v4));
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(9899);
  v6.sin6_addr.s6_addr[0] = 0xfd;
  v6.sin6_addr.s6_addr[15] = 1;
  std::memcpy(locals.data() + sizeof(sockaddr_storage), &v6, sizeof(v6));
  b.Put(INET_DIAG_LOCALS, locals.data(), locals.size());
  b.PutU8(INET_DIAG_PROTOCOL, IPPROTO_SCTP);
  auto m = std::move(b).Finish();
  diag::SockInfo s;
  CHECK(diag::DecodeSock(m.data(), m.size(), IPPROTO_TCP, s));
  CHECK_EQ(int{s.protocol}, 132);  // INET_DIAG_PROTOCOL wins over the query's
  CHECK_EQ(s.port, uint16_t{9899});
  CHECK_EQ(s.uid, 1000u);
  CHECK_EQ(s.inode, 4242u);
  CHECK_EQ(s.ifindex, 3u);
  CHECK_EQ(s.locals.size(), size_t{2});
  CHECK_EQ(s.locals[0], std::string("10.0.0.1"));
  CHECK_EQ(s.locals[1], std::string("fd00::1"));

  // A LOCALS attribute that is not whole entries, or holds another family: refused.
  nk::nl::MsgBuilder bad(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI);
  bad.PutHeader(r);
  bad.Put(INET_DIAG_LOCALS, locals.data(), locals.size() - 1);
  auto bm = std::move(bad).Finish();
  CHECK(!diag::DecodeSock(bm.data(), bm.size(), IPPROTO_SCTP, s));
  nk::nl::MsgBuilder unix_(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI);
  unix_.PutHeader(r);
  std::vector<uint8_t> un(sizeof(sockaddr_storage), 0);
  un[0] = AF_UNIX;
  unix_.Put(INET_DIAG_LOCALS, un.data(), un.size());
  auto um = std::move(unix_).Finish();
  CHECK(!diag::DecodeSock(um.data(), um.size(), IPPROTO_SCTP, s));
}
