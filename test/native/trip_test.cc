// native/rtnl/trip: one trip of rtnetlink operations against recording fake namespaces (no
// sockets, no root): grouping and pipelining per namespace, sysctl writes in their place,
// interfaces looked up by name when their turn comes, refusals stopping the rest, ignoreMissing.
#include <linux/if_addr.h>
#include <linux/netconf.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "check.h"
#include "nl/attr.h"
#include "nl/error.h"
#include "rtnl/trip.h"

namespace rtnl = nk::rtnl;
namespace nl = nk::nl;

namespace {

// What every fake namespace did, in order: "T<ns>:<ops>" per Transact, "S<ns>:<key>=<value>" per sysctl.
std::vector<std::string> gLog;

struct FakeNs : rtnl::TripTarget {
  explicit FakeNs(std::string name) : name(std::move(name)) {}
  std::string name;
  // Answers one request (default: an ACK; a GETLINK gets a link named as asked, ifindex 42).
  std::function<nl::Reply(const nl::Request&)> answer;
  int sysctlErr = 0;

  std::vector<nl::Reply> Transact(std::vector<nl::Request>& reqs) override {
    std::string ops;
    std::vector<nl::Reply> out;
    for (const auto& r : reqs) {
      ops += (ops.empty() ? "" : ",") + r.op;
      out.push_back(answer ? answer(r) : Default(r));
    }
    gLog.push_back("T" + name + ":" + ops);
    return out;
  }
  void WriteSysctl(const std::string& rel, const std::string& value) override {
    gLog.push_back("S" + name + ":" + rel + "=" + value);
    if (sysctlErr) throw nk::SysError(sysctlErr, "open", "/proc/sys/net/" + rel);
  }

  static nl::Reply Default(const nl::Request& r) {
    nl::Reply rep;
    rep.answered = true;
    if (r.op == "RTM_GETLINK" && r.wantReply) {
      // The request itself is a link message with the name asked for: answer it as the kernel
      // would, with an ifindex.
      rtnl::LinkSpec l;
      l.index = 42;
      l.name = NameOf(r.msg);
      auto m = rtnl::EncodeNewLink(l, false);
      reinterpret_cast<nlmsghdr*>(m.data())->nlmsg_type = RTM_NEWLINK;
      rep.messages.push_back(m);
    }
    return rep;
  }
  // IFLA_IFNAME of a link request.
  static std::string NameOf(const std::vector<uint8_t>& msg) {
    rtnl::LinkInfo l;
    std::vector<uint8_t> m = msg;
    reinterpret_cast<nlmsghdr*>(m.data())->nlmsg_type = RTM_NEWLINK;
    return rtnl::DecodeLink(m.data(), m.size(), l) ? l.name : "";
  }
};

rtnl::Op Build(std::shared_ptr<FakeNs> ns, rtnl::OpSpec s) {
  rtnl::Op op = rtnl::BuildOp(s);
  op.ns = std::move(ns);
  return op;
}

rtnl::OpSpec Spec(const std::string& kind) {
  rtnl::OpSpec s;
  s.kind = kind;
  return s;
}

rtnl::OpSpec LinkSet(const std::string& name, bool up) {
  rtnl::OpSpec s = Spec("link.set");
  s.link.name = name;
  s.link.up = up;
  return s;
}

rtnl::OpSpec Sysctl(const std::string& key, bool ignoreMissing = false) {
  rtnl::OpSpec s = Spec("sysctl.set");
  s.sysctlKey = key;
  s.sysctlValue = "1";
  s.ignoreMissing = ignoreMissing;
  return s;
}

rtnl::OpSpec AddrByName(const std::string& linkName) {
  rtnl::OpSpec s = Spec("addr.add");
  s.addr.addr = rtnl::ParseIp("10.9.0.2");
  s.addr.prefixLen = 24;
  s.linkName = linkName;
  return s;
}

nl::Reply Refusal(int err, const std::string& extack = "") {
  nl::Reply r;
  r.answered = true;
  r.err = err;
  r.extack = extack;
  return r;
}

}  // namespace

TEST(trip_groups_consecutive_ops_per_namespace_and_runs_sysctls_in_place) {
  gLog.clear();
  auto host = std::make_shared<FakeNs>("h");
  auto c = std::make_shared<FakeNs>("c");
  std::vector<rtnl::Op> ops;
  ops.push_back(Build(host, LinkSet("veth0", true)));
  ops.push_back(Build(host, Spec("link.list")));
  ops.push_back(Build(host, Sysctl("ipv6/conf/veth0/disable_ipv6")));
  ops.push_back(Build(host, LinkSet("veth0", false)));
  ops.push_back(Build(c, LinkSet("eth0", true)));
  ops.push_back(Build(c, Spec("route.list")));
  auto r = rtnl::RunTrip(ops);
  CHECK_EQ(r.size(), size_t{6});
  CHECK_EQ(gLog.size(), size_t{4});
  CHECK_EQ(gLog[0], std::string("Th:RTM_NEWLINK,RTM_GETLINK"));
  CHECK_EQ(gLog[1], std::string("Sh:ipv6/conf/veth0/disable_ipv6=1"));
  CHECK_EQ(gLog[2], std::string("Th:RTM_NEWLINK"));
  CHECK_EQ(gLog[3], std::string("Tc:RTM_NEWLINK,RTM_GETROUTE"));
  for (const auto& x : r) {
    CHECK_EQ(x.err, 0);
    CHECK(!x.notRun);
  }
}

TEST(trip_stops_after_a_refusal_and_reports_it) {
  gLog.clear();
  auto host = std::make_shared<FakeNs>("h");
  auto c = std::make_shared<FakeNs>("c");
  host->answer = [](const nl::Request& req) {
    return req.op == "RTM_NEWLINK" ? Refusal(EEXIST, "exists") : FakeNs::Default(req);
  };
  std::vector<rtnl::Op> ops;
  ops.push_back(Build(host, LinkSet("veth0", true)));
  ops.push_back(Build(host, Spec("link.list")));
  ops.push_back(Build(c, LinkSet("eth0", true)));
  ops.push_back(Build(c, Sysctl("ipv4/ip_forward")));
  auto r = rtnl::RunTrip(ops);
  CHECK_EQ(r[0].err, EEXIST);
  CHECK_EQ(r[0].syscall, std::string("RTM_NEWLINK"));
  CHECK_EQ(r[0].extack, std::string("exists"));
  CHECK_EQ(r[1].err, 0);  // pipelined with the refused one: it ran
  CHECK(r[2].notRun);
  CHECK(r[3].notRun);
  CHECK_EQ(gLog.size(), size_t{1});
}

TEST(trip_ignore_missing_makes_a_missing_object_a_success) {
  gLog.clear();
  auto host = std::make_shared<FakeNs>("h");
  host->answer = [](const nl::Request&) { return Refusal(ENODEV); };
  rtnl::OpSpec del = Spec("link.delete");
  del.name = "veth0";
  del.ignoreMissing = true;
  std::vector<rtnl::Op> ops;
  ops.push_back(Build(host, del));
  CHECK_EQ(rtnl::RunTrip(ops)[0].err, 0);
  del.ignoreMissing = false;
  std::vector<rtnl::Op> strict;
  strict.push_back(Build(host, del));
  CHECK_EQ(rtnl::RunTrip(strict)[0].err, ENODEV);
}

TEST(trip_sysctl_missing_key_fails_unless_ignored) {
  gLog.clear();
  auto host = std::make_shared<FakeNs>("h");
  host->sysctlErr = ENOENT;
  std::vector<rtnl::Op> ops;
  ops.push_back(Build(host, Sysctl("ipv6/conf/nosuch0/disable_ipv6", true)));
  ops.push_back(Build(host, Sysctl("ipv4/conf/nosuch0/forwarding")));
  ops.push_back(Build(host, LinkSet("veth0", true)));
  auto r = rtnl::RunTrip(ops);
  CHECK_EQ(r[0].err, 0);
  CHECK_EQ(r[1].err, ENOENT);
  CHECK_EQ(r[1].syscall, std::string("open"));
  CHECK(r[2].notRun);
}

TEST(trip_addr_by_name_looks_the_link_up_when_its_turn_comes) {
  gLog.clear();
  auto c = std::make_shared<FakeNs>("c");
  std::vector<std::vector<uint8_t>> sent;
  c->answer = [&](const nl::Request& req) {
    if (req.op == "RTM_NEWADDR") sent.push_back(req.msg);
    return FakeNs::Default(req);
  };
  std::vector<rtnl::Op> ops;
  ops.push_back(Build(c, LinkSet("eth0", true)));
  ops.push_back(Build(c, AddrByName("eth0")));
  auto r = rtnl::RunTrip(ops);
  CHECK_EQ(r[1].err, 0);
  CHECK_EQ(gLog.size(), size_t{2});
  CHECK_EQ(gLog[0], std::string("Tc:RTM_GETLINK"));  // the lookup comes first
  CHECK_EQ(gLog[1], std::string("Tc:RTM_NEWLINK,RTM_NEWADDR"));
  CHECK_EQ(sent.size(), size_t{1});
  // The message is the one EncodeNewAddr builds for ifindex 42 (what the lookup answered).
  rtnl::AddrSpec a;
  a.index = 42;
  a.addr = rtnl::ParseIp("10.9.0.2");
  a.prefixLen = 24;
  CHECK_EQ(sent[0], rtnl::EncodeNewAddr(a));
  ifaddrmsg ifa;
  std::memcpy(&ifa, sent[0].data() + NLMSG_HDRLEN, sizeof(ifa));
  CHECK_EQ(ifa.ifa_index, 42u);
}

TEST(trip_addr_by_name_of_a_missing_link_is_enodev_from_getlink) {
  gLog.clear();
  auto c = std::make_shared<FakeNs>("c");
  c->answer = [](const nl::Request& req) { return req.op == "RTM_GETLINK" ? Refusal(ENODEV) : FakeNs::Default(req); };
  std::vector<rtnl::Op> ops;
  ops.push_back(Build(c, AddrByName("nosuch0")));
  ops.push_back(Build(c, LinkSet("eth0", true)));
  auto r = rtnl::RunTrip(ops);
  CHECK_EQ(r[0].err, ENODEV);
  CHECK_EQ(r[0].syscall, std::string("RTM_GETLINK"));
  CHECK(r[1].notRun);
  CHECK_EQ(gLog.size(), size_t{1});
}

TEST(trip_decodes_what_it_asked_for) {
  gLog.clear();
  auto host = std::make_shared<FakeNs>("h");
  rtnl::OpSpec get = Spec("link.get");
  get.name = "br0";
  std::vector<rtnl::Op> ops;
  ops.push_back(Build(host, get));
  auto r = rtnl::RunTrip(ops);
  CHECK_EQ(r[0].links.size(), size_t{1});
  CHECK_EQ(r[0].links[0].name, std::string("br0"));
  CHECK_EQ(r[0].links[0].index, 42);
}

TEST(trip_build_refuses_what_it_cannot_send) {
  CHECK_THROWS(rtnl::BuildOp(Spec("link.frobnicate")));
  CHECK_THROWS(rtnl::BuildOp(Sysctl("../../kernel/hostname")));
  CHECK_THROWS(rtnl::BuildOp(Sysctl("/etc/passwd")));
  CHECK_THROWS(rtnl::BuildOp(Sysctl("")));
  CHECK_THROWS(rtnl::BuildOp(AddrByName("")));
  // link.set with bridge-port flags only: the port message alone; with both: two messages.
  rtnl::OpSpec port = Spec("link.set");
  port.link.index = 4;
  port.link.hairpin = true;
  CHECK_EQ(rtnl::BuildOp(port).reqs.size(), size_t{1});
  port.link.master = 5;
  CHECK_EQ(rtnl::BuildOp(port).reqs.size(), size_t{2});
  rtnl::OpSpec fdb = Spec("fdb.list");
  CHECK_EQ(rtnl::BuildOp(fdb).result == rtnl::ResultKind::Neighs, true);
}

// netconf.get: `ip netconf show dev all` (RTM_GETNETCONF, the family, NETCONFA_IFINDEX -1), its
// RTM_NEWNETCONF answer decoded to NETCONFA_FORWARDING.
TEST(trip_netconf_get_asks_for_all_and_decodes_forwarding) {
  gLog.clear();
  auto host = std::make_shared<FakeNs>("h");
  std::vector<uint8_t> sent;
  host->answer = [&sent](const nl::Request& r) {
    sent = r.msg;
    nl::Reply rep;
    rep.answered = true;
    nl::MsgBuilder b(RTM_NEWNETCONF, 0);
    netconfmsg ncm{};
    ncm.ncm_family = AF_INET;
    b.PutHeader(ncm);
    b.PutS32(NETCONFA_IFINDEX, NETCONFA_IFINDEX_ALL);
    b.PutS32(NETCONFA_FORWARDING, 1);
    b.PutS32(NETCONFA_RP_FILTER, 0);
    rep.messages.push_back(std::move(b).Finish());
    return rep;
  };
  rtnl::OpSpec s = Spec("netconf.get");
  s.family = AF_INET;
  s.index = NETCONFA_IFINDEX_ALL;
  std::vector<rtnl::Op> ops;
  ops.push_back(Build(host, s));
  CHECK(ops[0].reqs[0].wantReply);
  auto r = rtnl::RunTrip(ops);
  CHECK_EQ(gLog.at(0), std::string("Th:RTM_GETNETCONF"));
  CHECK(r[0].forwarding.has_value());
  CHECK_EQ(*r[0].forwarding, 1);
  // What went out: nlmsghdr, netconfmsg padded to 4, then NETCONFA_IFINDEX = -1.
  const auto* h = reinterpret_cast<const nlmsghdr*>(sent.data());
  CHECK_EQ(h->nlmsg_type, uint16_t{RTM_GETNETCONF});
  CHECK_EQ(sent.size(), size_t{NLMSG_HDRLEN + 4 + 8});
  CHECK_EQ(sent[NLMSG_HDRLEN], uint8_t{AF_INET});
  int32_t idx;
  std::memcpy(&idx, sent.data() + NLMSG_HDRLEN + 4 + 4, 4);
  CHECK_EQ(idx, NETCONFA_IFINDEX_ALL);
  s.family = AF_UNSPEC;
  CHECK_THROWS(rtnl::BuildOp(s));
}
