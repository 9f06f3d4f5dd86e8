// native/rtnl/monitor: notifications through DecodeEvent (RTM_DEL* as RTM_NEW*, bridge-port and
// cache-route notifications left out, malformed input refused) and the reader's handling of what
// a socket can return, scripted: datagrams, EAGAIN, ENOBUFS with the messages queued before the
// loss, truncated datagrams, foreign senders, EINTR, failures, and the per-wakeup budget.
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <deque>

#include "check.h"
#include "nl/attr.h"
#include "rtnl/monitor.h"

using nk::test::Hex;
namespace rtnl = nk::rtnl;

namespace {

std::vector<uint8_t> LinkMsg(int32_t index, const std::string& name, uint16_t type = RTM_NEWLINK) {
  rtnl::LinkSpec s;
  s.index = index;
  s.name = name;
  s.mtu = 1500;
  auto m = rtnl::EncodeNewLink(s, false);
  std::memcpy(m.data() + offsetof(nlmsghdr, nlmsg_type), &type, 2);
  return m;
}

std::vector<uint8_t> AddrMsg(uint16_t type) {
  rtnl::AddrSpec a;
  a.index = 4;
  a.addr = rtnl::ParseIp("10.1.2.3");
  a.prefixLen = 24;
  auto m = rtnl::EncodeNewAddr(a);
  std::memcpy(m.data() + offsetof(nlmsghdr, nlmsg_type), &type, 2);
  return m;
}

std::vector<uint8_t> RouteMsg(uint16_t type, uint32_t flags = 0) {
  rtnl::RouteSpec r;
  r.family = AF_INET;
  r.dst = rtnl::ParseIp("10.9.0.0");
  r.dstLen = 16;
  r.gateway = rtnl::ParseIp("10.1.2.1");
  r.oif = 4;
  auto m = rtnl::EncodeNewRoute(r, false);
  std::memcpy(m.data() + offsetof(nlmsghdr, nlmsg_type), &type, 2);
  std::memcpy(m.data() + sizeof(nlmsghdr) + offsetof(rtmsg, rtm_flags), &flags, 4);
  return m;
}

std::vector<uint8_t> NeighMsg(uint16_t type) {
  rtnl::NeighSpec n;
  n.family = AF_INET;
  n.index = 4;
  n.state = NUD_PERMANENT;
  n.dst = rtnl::ParseIp("10.1.2.9");
  n.lladdr = rtnl::ParseMac("02:00:00:00:00:09");
  auto m = rtnl::EncodeNewNeigh(n, rtnl::NeighMode::Add);
  std::memcpy(m.data() + offsetof(nlmsghdr, nlmsg_type), &type, 2);
  return m;
}

// A scripted socket: each step is a datagram (with flags) or an error.
struct Step {
  std::vector<uint8_t> bytes;
  int err = 0;  // positive errno: recv fails with it
  bool truncated = false;
  bool fromKernel = true;
};

struct Script {
  std::deque<Step> steps;
  size_t calls = 0;
  rtnl::MonitorReader::RecvFn Fn() {
    return [this](uint8_t* buf, size_t cap, bool* trunc, bool* kernel) -> ssize_t {
      calls++;
      if (steps.empty()) return -EAGAIN;
      Step s = steps.front();
      steps.pop_front();
      if (s.err) return -s.err;
      size_t n = std::min(cap, s.bytes.size());
      std::memcpy(buf, s.bytes.data(), n);
      *trunc = s.truncated;
      *kernel = s.fromKernel;
      return static_cast<ssize_t>(n);
    };
  }
};

Step Data(std::vector<uint8_t> b) {
  Step s;
  s.bytes = std::move(b);
  return s;
}
Step Err(int e) {
  Step s;
  s.err = e;
  return s;
}

}  // namespace

TEST(monitor_decodes_new_and_del_with_the_dump_decoders) {
  rtnl::Event ev;
  auto nl = LinkMsg(7, "veth7");
  CHECK(rtnl::DecodeEvent(nl.data(), nl.size(), ev) == rtnl::DecodeResult::Event);
  CHECK(ev.group == rtnl::EventGroup::Link);
  CHECK(!ev.del);
  CHECK_EQ(ev.link.index, 7);
  CHECK_EQ(ev.link.name, std::string("veth7"));
  auto dl = LinkMsg(7, "veth7", RTM_DELLINK);
  CHECK(rtnl::DecodeEvent(dl.data(), dl.size(), ev) == rtnl::DecodeResult::Event);
  CHECK(ev.del);
  CHECK_EQ(ev.link.name, std::string("veth7"));
  CHECK_EQ(ev.link.mtu, 1500u);

  for (uint16_t t : {uint16_t{RTM_NEWADDR}, uint16_t{RTM_DELADDR}}) {
    auto m = AddrMsg(t);
    CHECK(rtnl::DecodeEvent(m.data(), m.size(), ev) == rtnl::DecodeResult::Event);
    CHECK(ev.group == rtnl::EventGroup::Address);
    CHECK_EQ(ev.del, t == RTM_DELADDR);
    CHECK_EQ(ev.addr.address, std::string("10.1.2.3"));
    CHECK_EQ(int{ev.addr.prefixLen}, 24);
  }
  for (uint16_t t : {uint16_t{RTM_NEWROUTE}, uint16_t{RTM_DELROUTE}}) {
    auto m = RouteMsg(t);
    CHECK(rtnl::DecodeEvent(m.data(), m.size(), ev) == rtnl::DecodeResult::Event);
    CHECK(ev.group == rtnl::EventGroup::Route);
    CHECK_EQ(ev.del, t == RTM_DELROUTE);
    CHECK_EQ(ev.route.dst, std::string("10.9.0.0"));
    CHECK_EQ(ev.route.gateway, std::string("10.1.2.1"));
  }
  for (uint16_t t : {uint16_t{RTM_NEWNEIGH}, uint16_t{RTM_DELNEIGH}}) {
    auto m = NeighMsg(t);
    CHECK(rtnl::DecodeEvent(m.data(), m.size(), ev) == rtnl::DecodeResult::Event);
    CHECK(ev.group == rtnl::EventGroup::Neighbour);
    CHECK_EQ(ev.del, t == RTM_DELNEIGH);
    CHECK_EQ(ev.neigh.dst, std::string("10.1.2.9"));
    CHECK_EQ(ev.neigh.lladdr, std::string("02:00:00:00:00:09"));
  }
}

TEST(monitor_leaves_out_bridge_port_cache_route_and_other_messages) {
  rtnl::Event ev;
  // A port joining or leaving a bridge: RTM_NEWLINK / RTM_DELLINK of family AF_BRIDGE.
  for (uint16_t t : {uint16_t{RTM_NEWLINK}, uint16_t{RTM_DELLINK}}) {
    auto m = LinkMsg(5, "veth5", t);
    m[sizeof(nlmsghdr)] = AF_BRIDGE;
    CHECK(rtnl::DecodeEvent(m.data(), m.size(), ev) == rtnl::DecodeResult::Ignored);
  }
  auto cloned = RouteMsg(RTM_NEWROUTE, RTM_F_CLONED);
  CHECK(rtnl::DecodeEvent(cloned.data(), cloned.size(), ev) == rtnl::DecodeResult::Ignored);
  auto rule = LinkMsg(5, "x");
  uint16_t t = RTM_NEWRULE;
  std::memcpy(rule.data() + offsetof(nlmsghdr, nlmsg_type), &t, 2);
  CHECK(rtnl::DecodeEvent(rule.data(), rule.size(), ev) == rtnl::DecodeResult::Ignored);
}

TEST(monitor_refuses_truncated_and_lying_notifications) {
  rtnl::Event ev;
  for (auto m :
       {LinkMsg(7, "veth7", RTM_DELLINK), AddrMsg(RTM_DELADDR), RouteMsg(RTM_DELROUTE), NeighMsg(RTM_DELNEIGH)}) {
    for (size_t n = 0; n < m.size(); n++) {
      std::vector<uint8_t> cut(m.begin(), m.begin() + static_cast<long>(n));
      CHECK(rtnl::DecodeEvent(cut.data(), cut.size(), ev) != rtnl::DecodeResult::Event);
    }
    auto twice = m;
    twice.insert(twice.end(), m.begin(), m.end());
    CHECK(rtnl::DecodeEvent(twice.data(), twice.size(), ev) == rtnl::DecodeResult::Malformed);
    auto lying = m;
    uint16_t bad = 3;  // the first attribute's length
    size_t firstAttr = sizeof(nlmsghdr) + (m[4] == RTM_DELLINK    ? sizeof(ifinfomsg)
                                           : m[4] == RTM_DELADDR  ? sizeof(ifaddrmsg)
                                           : m[4] == RTM_DELROUTE ? sizeof(rtmsg)
                                                                  : sizeof(ndmsg));
    std::memcpy(lying.data() + firstAttr, &bad, 2);
    CHECK(rtnl::DecodeEvent(lying.data(), lying.size(), ev) == rtnl::DecodeResult::Malformed);
  }
}

TEST(monitor_reader_reads_datagrams_until_the_socket_is_empty) {
  Script s;
  auto two = LinkMsg(1, "a");
  auto second = AddrMsg(RTM_NEWADDR);
  two.insert(two.end(), second.begin(), second.end());  // two messages in one datagram
  s.steps = {Data(LinkMsg(2, "b")), Data(two)};         // then the script is empty: EAGAIN
  rtnl::MonitorReader r(s.Fn());
  auto b = r.Read(64);
  CHECK(b.again);
  CHECK(!b.overrun);
  CHECK_EQ(b.err, 0);
  CHECK_EQ(b.events.size(), size_t{3});
  CHECK_EQ(b.events[0].link.name, std::string("b"));
  CHECK_EQ(b.events[1].link.name, std::string("a"));
  CHECK(b.events[2].group == rtnl::EventGroup::Address);
  CHECK_EQ(r.stats().datagrams, uint64_t{2});
  CHECK_EQ(r.stats().messages, uint64_t{3});
  CHECK_EQ(r.stats().events, uint64_t{3});
}

TEST(monitor_reader_reports_an_overrun_once_the_queued_messages_are_discarded) {
  Script s;
  // One notification read, then the loss (ENOBUFS comes before what was queued before it), the
  // three queued messages, then an empty socket.
  s.steps = {Data(LinkMsg(1, "before")), Err(ENOBUFS), Data(LinkMsg(2, "q1")), Data(LinkMsg(3, "q2")),
             Data(LinkMsg(4, "q3"))};
  rtnl::MonitorReader r(s.Fn());
  auto b = r.Read(64);
  CHECK(b.overrun);
  CHECK(!b.again);
  CHECK_EQ(b.events.size(), size_t{1});
  CHECK_EQ(b.events[0].link.name, std::string("before"));
  CHECK_EQ(r.stats().overruns, uint64_t{1});
  CHECK_EQ(r.stats().discarded, uint64_t{3});
  // Then the socket is live again.
  s.steps = {Data(LinkMsg(5, "after"))};
  b = r.Read(64);
  CHECK(!b.overrun);
  CHECK(b.again);
  CHECK_EQ(b.events.size(), size_t{1});
  CHECK_EQ(b.events[0].link.name, std::string("after"));
}

TEST(monitor_reader_discards_across_wakeups_within_its_budget) {
  Script s;
  s.steps = {Err(ENOBUFS), Data(LinkMsg(1, "x")), Data(LinkMsg(2, "y")), Err(ENOBUFS), Data(LinkMsg(3, "z"))};
  rtnl::MonitorReader r(s.Fn());
  auto b = r.Read(2);  // the budget ends while discarding: no verdict yet
  CHECK(!b.overrun && !b.again && b.err == 0 && b.events.empty());
  CHECK_EQ(s.calls, size_t{2});
  b = r.Read(2);  // y, then a second ENOBUFS while discarding: still one overrun
  CHECK(!b.overrun && b.events.empty());
  b = r.Read(2);  // z, then empty
  CHECK(b.overrun);
  CHECK(b.events.empty());
  CHECK_EQ(r.stats().overruns, uint64_t{1});
  CHECK_EQ(r.stats().discarded, uint64_t{3});
}

TEST(monitor_reader_truncated_datagram_is_a_loss) {
  Script s;
  Step big = Data(LinkMsg(1, "huge"));
  big.truncated = true;
  s.steps = {Data(LinkMsg(2, "ok")), big, Data(LinkMsg(3, "queued"))};
  rtnl::MonitorReader r(s.Fn());
  auto b = r.Read(64);
  CHECK(b.overrun);
  CHECK_EQ(b.events.size(), size_t{1});
  CHECK_EQ(r.stats().overruns, uint64_t{1});
}

TEST(monitor_reader_skips_foreign_senders_retries_eintr_and_stops_on_errors) {
  Script s;
  Step foreign = Data(LinkMsg(1, "spoof"));
  foreign.fromKernel = false;
  auto junk = LinkMsg(2, "junk");
  junk[0] = 0xff;  // nlmsg_len past the datagram
  auto ignored = RouteMsg(RTM_NEWROUTE, RTM_F_CLONED);
  s.steps = {
      foreign, Err(EINTR), Data(junk), Data(ignored), Data(LinkMsg(3, "real")), Err(EBADF), Data(LinkMsg(4, "unread"))};
  rtnl::MonitorReader r(s.Fn());
  auto b = r.Read(5);  // EINTR does not count against the budget
  CHECK_EQ(b.err, EBADF);
  CHECK_EQ(b.events.size(), size_t{1});
  CHECK_EQ(b.events[0].link.name, std::string("real"));
  CHECK_EQ(r.stats().foreign, uint64_t{1});
  CHECK_EQ(r.stats().malformed, uint64_t{1});
  CHECK_EQ(r.stats().ignored, uint64_t{1});
  CHECK_EQ(s.steps.size(), size_t{1});
}

TEST(monitor_groups_and_names) {
  rtnl::EventGroup g;
  for (const char* n : {"link", "address", "route", "neighbour"}) {
    CHECK(rtnl::ParseEventGroup(n, &g));
    CHECK_EQ(std::string(rtnl::EventGroupName(g)), std::string(n));
  }
  CHECK(!rtnl::ParseEventGroup("neigh", &g));
  CHECK(!rtnl::ParseEventGroup("", &g));
  CHECK(rtnl::MulticastGroups(rtnl::EventGroup::Link) == std::vector<uint32_t>{RTNLGRP_LINK});
  CHECK((rtnl::MulticastGroups(rtnl::EventGroup::Address) ==
         std::vector<uint32_t>{RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR}));
  CHECK((rtnl::MulticastGroups(rtnl::EventGroup::Route) ==
         std::vector<uint32_t>{RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE}));
  CHECK(rtnl::MulticastGroups(rtnl::EventGroup::Neighbour) == std::vector<uint32_t>{RTNLGRP_NEIGH});
}

namespace {

// Runs the classic BPF programs TypeFilter makes (LD|H|ABS, JMP|JEQ|K, RET|K: nothing else) over
// a message as the kernel would: the half-word load big-endian, a load past the end drops.
uint32_t RunFilter(const std::vector<sock_filter>& prog, const std::vector<uint8_t>& pkt) {
  uint32_t a = 0;
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_H | BPF_ABS:
        if (f.k + 2 > pkt.size()) return 0;
        a = (uint32_t{pkt[f.k]} << 8) | pkt[f.k + 1];
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == f.k ? f.jt : f.jf;
        break;
      case BPF_RET | BPF_K:
        return f.k;
      default:
        throw std::runtime_error("an instruction TypeFilter does not make");
    }
  }
  throw std::runtime_error("ran off the end of the program");
}

}  // namespace

TEST(monitor_type_filter_drops_exactly_the_given_types) {
  CHECK(rtnl::TypeFilter({}).empty());
  auto delOnly = rtnl::TypeFilter({RTM_NEWLINK});
  CHECK_EQ(delOnly.size(), size_t{4});
  CHECK_EQ(RunFilter(delOnly, LinkMsg(3, "a", RTM_NEWLINK)), 0u);
  CHECK(RunFilter(delOnly, LinkMsg(3, "a", RTM_DELLINK)) != 0u);
  CHECK(RunFilter(delOnly, AddrMsg(RTM_NEWADDR)) != 0u);
  // Several types: each dropped, every other kept (whatever the position in the program).
  std::vector<uint16_t> drop{RTM_NEWLINK, RTM_NEWADDR, RTM_DELROUTE, RTM_NEWNEIGH};
  auto prog = rtnl::TypeFilter(drop);
  for (uint16_t t = RTM_BASE; t < RTM_BASE + 64; t++) {
    bool dropped = std::find(drop.begin(), drop.end(), t) != drop.end();
    CHECK_EQ(RunFilter(prog, LinkMsg(3, "a", t)) == 0u, dropped);
  }
  // A message shorter than its header is dropped, never read past.
  CHECK_EQ(RunFilter(prog, std::vector<uint8_t>{1, 2, 3}), 0u);
}
