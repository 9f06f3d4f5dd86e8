#include "sock_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "../nl/attr.h"
#include "../nl/error.h"
#include "../rtnl/ip.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

namespace nk::diag {

namespace {

// Writes one inet_diag_bc_op at `off` of a buffer sized beforehand.
void PutOp(std::vector<uint8_t>& out, size_t off, uint8_t code, uint8_t yes, uint16_t no) {
  inet_diag_bc_op op{};
  op.code = code;
  op.yes = yes;
  op.no = no;
  std::memcpy(out.data() + off, &op, sizeof(op));
}

bool Dumpable(const Query& q) {
  return (q.family == AF_INET || q.family == AF_INET6) &&
         (q.protocol == IPPROTO_TCP || q.protocol == IPPROTO_UDP || q.protocol == IPPROTO_SCTP);
}

}  // namespace

std::vector<uint8_t> PortBytecode(uint16_t port) {
  // ss: one S_COND op, a host condition matching any family and address (prefix 0) with the
  // port, and 4 bytes of (unused) address. yes: the next op (here: the end, accept); no: 4 past
  // the end, which the kernel's walk takes as "reject".
  const size_t len = sizeof(inet_diag_bc_op) + sizeof(inet_diag_hostcond) + 4;
  std::vector<uint8_t> out(len, 0);
  PutOp(out, 0, INET_DIAG_BC_S_COND, static_cast<uint8_t>(len), static_cast<uint16_t>(len + 4));
  inet_diag_hostcond cond{};
  cond.family = AF_UNSPEC;
  cond.prefix_len = 0;
  cond.port = port;
  std::memcpy(out.data() + sizeof(inet_diag_bc_op), &cond, sizeof(cond));
  return out;
}

std::vector<uint8_t> PortRangeBytecode(uint16_t first, uint16_t last) {
  // ss: S_GE then S_LE, each followed by a second op carrying the port in `no`.
  constexpr uint8_t step = 2 * sizeof(inet_diag_bc_op);
  std::vector<uint8_t> out(2 * step, 0);
  PutOp(out, 0, INET_DIAG_BC_S_GE, step, static_cast<uint16_t>(2 * step + 4));
  PutOp(out, 4, 0, 0, first);
  PutOp(out, step, INET_DIAG_BC_S_LE, step, static_cast<uint16_t>(step + 4));
  PutOp(out, step + 4, 0, 0, last);
  return out;
}

std::vector<uint8_t> EncodeDump(const Query& q) {
  if (!Dumpable(q))
    throw SysError(EINVAL, "SOCK_DIAG_BY_FAMILY", "inet_diag dumps AF_INET/AF_INET6 TCP, UDP and SCTP sockets");
  if (q.port && (q.portFirst || q.portLast))
    throw SysError(EINVAL, "SOCK_DIAG_BY_FAMILY", "a port or a port range, not both");
  if (q.portFirst.has_value() != q.portLast.has_value() || (q.portFirst && *q.portFirst > *q.portLast))
    throw SysError(EINVAL, "SOCK_DIAG_BY_FAMILY", "a port range needs first <= last");
  nl::MsgBuilder b(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP);
  inet_diag_req_v2 req{};
  req.sdiag_family = q.family;
  req.sdiag_protocol = q.protocol;
  req.idiag_ext = 0;
  req.idiag_states = q.states;
  b.PutHeader(req);
  if (q.port) {
    auto bc = PortBytecode(*q.port);
    b.Put(INET_DIAG_REQ_BYTECODE, bc.data(), bc.size());
  } else if (q.portFirst) {
    auto bc = PortRangeBytecode(*q.portFirst, *q.portLast);
    b.Put(INET_DIAG_REQ_BYTECODE, bc.data(), bc.size());
  }
  return std::move(b).Finish();
}

namespace {

// INET_DIAG_LOCALS: an array of struct sockaddr_storage (128 bytes each) holding sockaddr_in or
// sockaddr_in6. False when the attribute is not a whole number of entries or holds another family.
bool DecodeLocals(const nl::Attr& a, std::vector<std::string>& out) {
  constexpr size_t kEntry = sizeof(sockaddr_storage);
  if (a.len % kEntry) return false;
  for (size_t off = 0; off < a.len; off += kEntry) {
    const uint8_t* e = a.data + off;
    uint16_t family;
    std::memcpy(&family, e, sizeof(family));
    if (family == AF_INET) {
      out.push_back(rtnl::FormatIp(AF_INET, e + offsetof(sockaddr_in, sin_addr), 4));
    } else if (family == AF_INET6) {
      out.push_back(rtnl::FormatIp(AF_INET6, e + offsetof(sockaddr_in6, sin6_addr), 16));
    } else {
      return false;
    }
  }
  return true;
}

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

}  // namespace

bool DecodeSock(const uint8_t* msg, size_t len, uint8_t protocol, SockInfo& out) {
  std::vector<nl::MsgView> views;
  if (!nl::SplitMessages(msg, len, views) || views.size() != 1) return false;
  const nl::MsgView& m = views[0];
  if (m.hdr->nlmsg_type != SOCK_DIAG_BY_FAMILY) return false;
  const uint8_t* attrs;
  size_t alen;
  if (!nl::MessageAttrs(m, sizeof(inet_diag_msg), &attrs, &alen)) return false;
  inet_diag_msg r;
  std::memcpy(&r, m.payload, sizeof(r));
  if (r.idiag_family != AF_INET && r.idiag_family != AF_INET6) return false;
  const size_t alen4 = r.idiag_family == AF_INET ? 4 : 16;
  out.family = r.idiag_family;
  out.protocol = protocol;
  out.state = r.idiag_state;
  out.address = rtnl::FormatIp(r.idiag_family, reinterpret_cast<const uint8_t*>(r.id.idiag_src), alen4);
  out.port = ntohs(r.id.idiag_sport);
  const auto* dst = reinterpret_cast<const uint8_t*>(r.id.idiag_dst);
  if (!AllZero(dst, alen4) || r.id.idiag_dport) out.peer = rtnl::FormatIp(r.idiag_family, dst, alen4);
  out.peerPort = ntohs(r.id.idiag_dport);
  out.ifindex = r.id.idiag_if;
  out.uid = r.idiag_uid;
  out.inode = r.idiag_inode;
  out.cookie = static_cast<uint64_t>(r.id.idiag_cookie[0]) | (static_cast<uint64_t>(r.id.idiag_cookie[1]) << 32);
  out.rqueue = r.idiag_rqueue;
  out.wqueue = r.idiag_wqueue;

  nl::AttrIter it(attrs, alen);
  nl::Attr a;
  bool nestsOk = true;
  while (it.Next(a)) {
    switch (a.type) {
      case INET_DIAG_SKV6ONLY:
        if (auto v = a.U8()) out.v6only = *v != 0;
        break;
      case INET_DIAG_PROTOCOL:
        if (auto v = a.U8()) out.protocol = *v;
        break;
      case INET_DIAG_CGROUP_ID:
        if (auto v = a.U64()) out.cgroupId = *v;
        break;
      case INET_DIAG_LOCALS:
        nestsOk = DecodeLocals(a, out.locals) && nestsOk;
        break;
      default:
        break;  // meminfo, shutdown, mark, sockopt...: not modelled here
    }
  }
  return it.ok() && nestsOk;
}

std::vector<Result> List(nl::Socket& s, const std::vector<Query>& queries) {
  std::vector<nl::Request> reqs;
  reqs.reserve(queries.size());
  for (const Query& q : queries) {
    nl::Request r;
    r.msg = EncodeDump(q);
    r.dump = true;
    r.op = "SOCK_DIAG_BY_FAMILY";
    reqs.push_back(std::move(r));
  }
  auto replies = s.Transact(reqs);
  std::vector<Result> out(queries.size());
  for (size_t i = 0; i < queries.size(); i++) {
    out[i].err = replies[i].err;
    out[i].extack = replies[i].extack;
    if (replies[i].err) continue;
    for (const auto& m : replies[i].messages) {
      SockInfo si;
      if (!DecodeSock(m.data(), m.size(), queries[i].protocol, si))
        throw SysError(EPROTO, "SOCK_DIAG_BY_FAMILY", "malformed inet_diag reply");
      out[i].sockets.push_back(std::move(si));
    }
  }
  return out;
}

}  // namespace nk::diag
