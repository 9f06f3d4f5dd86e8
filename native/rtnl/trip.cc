#include "trip.h"

#include <linux/netconf.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "../nl/attr.h"
#include "../nl/error.h"

namespace nk::rtnl {

nl::Request MakeRequest(std::vector<uint8_t> msg, const char* op, bool dump, bool reply) {
  nl::Request r;
  r.msg = std::move(msg);
  r.op = op;
  r.dump = dump;
  r.wantReply = reply;
  return r;
}

Op BuildOp(const OpSpec& s) {
  Op op;
  const std::string& kind = s.kind;
  if (kind == "sysctl.set") {
    op.sysctl = true;
    op.sysctlKey = s.sysctlKey;
    op.sysctlValue = s.sysctlValue;
    op.ignoreMissing = s.ignoreMissing;  // no such key (e.g. no IPv6): done
    if (op.sysctlKey.empty() || op.sysctlKey.find("..") != std::string::npos || op.sysctlKey[0] == '/')
      throw std::invalid_argument("sysctl.set: key must be a path under /proc/sys/net");
  } else if (kind == "link.create") {
    op.reqs.push_back(MakeRequest(EncodeNewLink(s.link, true), "RTM_NEWLINK"));
  } else if (kind == "link.set") {
    const LinkSpec& l = s.link;
    bool portOnly = !l.mtu && !l.mac && !l.up && !l.master && !l.alias && l.nsFd < 0 && l.name.empty() && !l.stp &&
                    !l.vlanFiltering && !l.group;
    if (!portOnly) op.reqs.push_back(MakeRequest(EncodeNewLink(l, false), "RTM_NEWLINK"));
    auto port = EncodeBridgePort(l);
    if (!port.empty()) op.reqs.push_back(MakeRequest(std::move(port), "RTM_NEWLINK"));
  } else if (kind == "link.delete") {
    if (s.group)  // `ip link delete group N`: every link of the group in one message
      op.reqs.push_back(MakeRequest(EncodeDelLinkGroup(*s.group), "RTM_DELLINK"));
    else
      op.reqs.push_back(MakeRequest(EncodeDelLink(s.index, s.name), "RTM_DELLINK"));
    op.ignoreMissing = s.ignoreMissing;
  } else if (kind == "link.get") {
    op.reqs.push_back(MakeRequest(EncodeGetLink(s.index, s.name), "RTM_GETLINK", false, true));
    op.result = ResultKind::Link;
  } else if (kind == "link.list") {
    op.reqs.push_back(MakeRequest(EncodeDumpLinks(), "RTM_GETLINK", true));
    op.result = ResultKind::Links;
  } else if (kind == "addr.add") {
    if (s.addr.index == 0) {
      // The interface is looked up when the operation's turn comes; its message is built then.
      if (s.linkName.empty()) throw std::invalid_argument("addr.add needs index or linkName");
      op.linkName = s.linkName;
      op.addrByName = s.addr;
    }
    op.reqs.push_back(MakeRequest(EncodeNewAddr(s.addr), "RTM_NEWADDR"));
  } else if (kind == "addr.delete") {
    op.reqs.push_back(MakeRequest(EncodeDelAddr(s.addr), "RTM_DELADDR"));
    op.ignoreMissing = s.ignoreMissing;
  } else if (kind == "addr.list") {
    op.reqs.push_back(MakeRequest(EncodeDumpAddrs(s.family, s.index), "RTM_GETADDR", true));
    op.result = ResultKind::Addrs;
  } else if (kind == "route.add" || kind == "route.replace") {
    op.reqs.push_back(MakeRequest(EncodeNewRoute(s.route, kind == "route.replace"), "RTM_NEWROUTE"));
  } else if (kind == "route.delete") {
    op.reqs.push_back(MakeRequest(EncodeDelRoute(s.route), "RTM_DELROUTE"));
    op.ignoreMissing = s.ignoreMissing;
  } else if (kind == "route.list") {
    op.reqs.push_back(MakeRequest(EncodeDumpRoutes(s.family), "RTM_GETROUTE", true));
    op.result = ResultKind::Routes;
  } else if (kind == "fdb.add" || kind == "fdb.append" || kind == "fdb.replace" || kind == "neigh.add" ||
             kind == "neigh.replace") {
    NeighMode mode = kind.find(".append") != std::string::npos    ? NeighMode::Append
                     : kind.find(".replace") != std::string::npos ? NeighMode::Replace
                                                                  : NeighMode::Add;
    op.reqs.push_back(MakeRequest(EncodeNewNeigh(s.neigh, mode), "RTM_NEWNEIGH"));
  } else if (kind == "fdb.delete" || kind == "neigh.delete") {
    op.reqs.push_back(MakeRequest(EncodeDelNeigh(s.neigh), "RTM_DELNEIGH"));
    op.ignoreMissing = s.ignoreMissing;
  } else if (kind == "fdb.list" || kind == "neigh.list") {
    uint8_t family = kind == "fdb.list" ? AF_BRIDGE : s.family;
    op.reqs.push_back(MakeRequest(EncodeDumpNeighs(family, s.index), "RTM_GETNEIGH", true));
    op.result = ResultKind::Neighs;
  } else if (kind == "netconf.get") {
    // `ip netconf show [dev DEV]`: the family's settings of a device, or of `all` (index -1:
    // NETCONFA_IFINDEX_ALL): net.ipv4.ip_forward read without /proc/sys, whose lookups grow
    // with the number of namespaces on the host.
    if (s.family != AF_INET && s.family != AF_INET6) throw std::invalid_argument("netconf.get needs family 4 or 6");
    nl::MsgBuilder b(RTM_GETNETCONF, NLM_F_REQUEST | NLM_F_ACK);
    netconfmsg ncm{};
    ncm.ncm_family = s.family;
    b.PutHeader(ncm);
    b.PutS32(NETCONFA_IFINDEX, s.index);
    op.reqs.push_back(MakeRequest(std::move(b).Finish(), "RTM_GETNETCONF", false, true));
    op.result = ResultKind::Netconf;
  } else {
    throw std::invalid_argument("unknown operation '" + kind + "'");
  }
  return op;
}

namespace {

bool IsMissing(int err) { return err == ENOENT || err == ENODEV || err == ESRCH || err == EADDRNOTAVAIL; }

void Decode(const Op& op, const nl::Reply& r, OpResult& out) {
  for (const auto& m : r.messages) {
    switch (op.result) {
      case ResultKind::Link:
      case ResultKind::Links: {
        LinkInfo l;
        if (DecodeLink(m.data(), m.size(), l)) out.links.push_back(std::move(l));
        break;
      }
      case ResultKind::Addrs: {
        AddrInfo a;
        if (DecodeAddr(m.data(), m.size(), a)) out.addrs.push_back(std::move(a));
        break;
      }
      case ResultKind::Routes: {
        RouteInfo ri;
        if (DecodeRoute(m.data(), m.size(), ri) && !(ri.flags & RTM_F_CLONED)) out.routes.push_back(std::move(ri));
        break;
      }
      case ResultKind::Neighs: {
        NeighInfo n;
        if (DecodeNeigh(m.data(), m.size(), n)) out.neighs.push_back(std::move(n));
        break;
      }
      case ResultKind::Netconf: {
        std::vector<nl::MsgView> views;
        const uint8_t* attrs;
        size_t alen;
        if (!nl::SplitMessages(m.data(), m.size(), views) || views.size() != 1 ||
            views[0].hdr->nlmsg_type != RTM_NEWNETCONF ||
            !nl::MessageAttrs(views[0], sizeof(netconfmsg), &attrs, &alen))
          break;
        nl::AttrIter it(attrs, alen);
        nl::Attr a;
        while (it.Next(a))
          if (a.type == NETCONFA_FORWARDING)
            if (auto v = a.U32()) out.forwarding = static_cast<int32_t>(*v);
        break;
      }
      default:
        break;
    }
  }
}

// A sysctl write, alone in its group. Returns false when it failed (and the trip stops).
bool RunSysctl(Op& op, OpResult& res) {
  try {
    op.ns->WriteSysctl(op.sysctlKey, op.sysctlValue);
  } catch (const SysError& e) {
    if (e.err == ENOENT && op.ignoreMissing) return true;
    res.err = e.err;
    res.syscall = e.syscall;
    return false;
  }
  return true;
}

// Interfaces named instead of indexed: looked up now (they may be this trip's), and the
// address message built with the index. Returns false when a lookup failed.
bool ResolveNames(std::vector<Op>& ops, size_t i, size_t j, std::vector<OpResult>& results) {
  for (size_t k = i; k < j; k++) {
    Op& op = ops[k];
    if (!op.addrByName) continue;
    std::vector<nl::Request> get{MakeRequest(EncodeGetLink(0, op.linkName), "RTM_GETLINK", false, true)};
    std::vector<nl::Reply> got = op.ns->Transact(get);
    LinkInfo l;
    if (got[0].err || got[0].messages.empty() || !DecodeLink(got[0].messages[0].data(), got[0].messages[0].size(), l)) {
      OpResult& res = results[k];
      res.err = got[0].err ? got[0].err : ENODEV;
      res.extack = got[0].extack;
      res.syscall = "RTM_GETLINK";
      return false;
    }
    AddrSpec a = *op.addrByName;
    a.index = l.index;
    op.reqs[0].msg = EncodeNewAddr(a);
    op.addrByName.reset();
  }
  return true;
}

}  // namespace

std::vector<OpResult> RunTrip(std::vector<Op>& ops) {
  std::vector<OpResult> results(ops.size());
  bool failed = false;
  size_t i = 0;
  while (i < ops.size()) {
    size_t j = i + 1;
    // A group: consecutive netlink operations on one namespace (pipelined); a sysctl alone.
    if (!ops[i].sysctl)
      while (j < ops.size() && ops[j].ns == ops[i].ns && !ops[j].sysctl) j++;
    if (failed) {
      for (size_t k = i; k < j; k++) results[k].notRun = true;
      i = j;
      continue;
    }
    if (ops[i].sysctl) {
      failed = !RunSysctl(ops[i], results[i]);
      i = j;
      continue;
    }
    if (!ResolveNames(ops, i, j, results)) {
      failed = true;
      for (size_t k = i; k < j; k++)
        if (!results[k].err) results[k].notRun = true;
      i = j;
      continue;
    }
    std::vector<nl::Request> reqs;
    std::vector<size_t> owner;
    for (size_t k = i; k < j; k++)
      for (auto& r : ops[k].reqs) {
        reqs.push_back(r);
        owner.push_back(k);
      }
    std::vector<nl::Reply> replies = ops[i].ns->Transact(reqs);
    for (size_t q = 0; q < replies.size(); q++) {
      OpResult& res = results[owner[q]];
      const Op& op = ops[owner[q]];
      int err = replies[q].err;
      if (err && op.ignoreMissing && IsMissing(err)) err = 0;
      if (err && !res.err) {
        res.err = err;
        res.extack = replies[q].extack;
        res.syscall = reqs[q].op;
        failed = true;
      }
      if (!err) Decode(op, replies[q], res);
    }
    i = j;
  }
  return results;
}

}  // namespace nk::rtnl
