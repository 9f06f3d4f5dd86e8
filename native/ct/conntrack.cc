#include "conntrack.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "../nl/attr.h"
#include "../nl/error.h"

namespace nk::ct {

using nl::Attr;
using nl::AttrIter;
using nl::MsgBuilder;

namespace {

constexpr uint16_t MsgType(uint8_t msg) { return static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg); }

void PutNfgen(MsgBuilder& b, uint8_t family) {
  nfgenmsg g{};
  g.nfgen_family = family;
  g.version = NFNETLINK_V0;
  g.res_id = 0;  // big-endian 0
  b.PutHeader(g);
}

bool IsIcmp(uint8_t family, uint8_t proto) {
  return (family == AF_INET && proto == IPPROTO_ICMP) || (family == AF_INET6 && proto == IPPROTO_ICMPV6);
}

// The protocols whose tuples the kernel writes and reads as CTA_PROTO_SRC_PORT/DST_PORT
// (nf_ct_port_tuple_to_nlattr): tcp, udp, dccp, sctp, udplite, and gre (its keys).
bool HasPorts(uint8_t proto) {
  return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_DCCP || proto == IPPROTO_SCTP ||
         proto == IPPROTO_UDPLITE || proto == IPPROTO_GRE;
}

void PutTuple(MsgBuilder& b, uint16_t type, uint8_t family, const Tuple& t) {
  size_t tuple = b.NestStart(type | NLA_F_NESTED);
  size_t ip = b.NestStart(CTA_TUPLE_IP | NLA_F_NESTED);
  if (family == AF_INET) {
    b.Put(CTA_IP_V4_SRC, t.src.bytes, 4);
    b.Put(CTA_IP_V4_DST, t.dst.bytes, 4);
  } else {
    b.Put(CTA_IP_V6_SRC, t.src.bytes, 16);
    b.Put(CTA_IP_V6_DST, t.dst.bytes, 16);
  }
  b.NestEnd(ip);
  size_t proto = b.NestStart(CTA_TUPLE_PROTO | NLA_F_NESTED);
  b.PutU8(CTA_PROTO_NUM, t.proto);
  if (IsIcmp(family, t.proto)) {
    bool v6 = family == AF_INET6;
    if (t.icmpId) b.PutBe16(v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID, *t.icmpId);
    if (t.icmpType) b.PutU8(v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE, *t.icmpType);
    if (t.icmpCode) b.PutU8(v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE, *t.icmpCode);
  } else {
    if (t.srcPort) b.PutBe16(CTA_PROTO_SRC_PORT, *t.srcPort);
    if (t.dstPort) b.PutBe16(CTA_PROTO_DST_PORT, *t.dstPort);
  }
  b.NestEnd(proto);
  if (t.zone) b.PutBe16(CTA_TUPLE_ZONE, *t.zone);
  b.NestEnd(tuple);
}

bool DecodeAddr(const Attr& a, uint8_t family, rtnl::IpAddr& out) {
  size_t want = family == AF_INET ? 4 : 16;
  if (a.len != want) return false;
  out.family = family;
  std::memcpy(out.bytes, a.data, want);
  return true;
}

// CTA_TUPLE_ORIG / CTA_TUPLE_REPLY. Needs both addresses (of the message's family) and the
// protocol number; everything else is optional, and every length is checked.
bool DecodeTuple(const Attr& nest, uint8_t family, Tuple& t) {
  std::vector<std::optional<Attr>> tb;
  if (!nl::ParseTable(nest.data, nest.len, tb, CTA_TUPLE_MAX)) return false;
  if (!tb[CTA_TUPLE_IP] || !tb[CTA_TUPLE_PROTO]) return false;

  std::vector<std::optional<Attr>> ip;
  if (!nl::ParseTable(tb[CTA_TUPLE_IP]->data, tb[CTA_TUPLE_IP]->len, ip, CTA_IP_MAX)) return false;
  uint16_t srcType = family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC;
  uint16_t dstType = family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST;
  if (!ip[srcType] || !ip[dstType]) return false;
  if (!DecodeAddr(*ip[srcType], family, t.src) || !DecodeAddr(*ip[dstType], family, t.dst)) return false;

  std::vector<std::optional<Attr>> pr;
  if (!nl::ParseTable(tb[CTA_TUPLE_PROTO]->data, tb[CTA_TUPLE_PROTO]->len, pr, CTA_PROTO_MAX)) return false;
  if (!pr[CTA_PROTO_NUM]) return false;
  auto num = pr[CTA_PROTO_NUM]->U8();
  if (!num) return false;
  t.proto = *num;
  auto be16 = [&](uint16_t type, std::optional<uint16_t>& out) -> bool {
    if (!pr[type]) return true;
    out = pr[type]->Be16();
    return out.has_value();
  };
  auto u8 = [&](uint16_t type, std::optional<uint8_t>& out) -> bool {
    if (!pr[type]) return true;
    out = pr[type]->U8();
    return out.has_value();
  };
  if (!be16(CTA_PROTO_SRC_PORT, t.srcPort) || !be16(CTA_PROTO_DST_PORT, t.dstPort)) return false;
  bool v6 = family == AF_INET6;
  if (!be16(v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID, t.icmpId)) return false;
  if (!u8(v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE, t.icmpType)) return false;
  if (!u8(v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE, t.icmpCode)) return false;
  if (tb[CTA_TUPLE_ZONE]) {
    t.zone = tb[CTA_TUPLE_ZONE]->Be16();
    if (!t.zone) return false;
  }
  return true;
}

bool SameAddr(const rtnl::IpAddr& a, const rtnl::IpAddr& b) {
  return a.family == b.family && std::memcmp(a.bytes, b.bytes, a.size()) == 0;
}

}  // namespace

bool Filter::Matches(const Entry& e) const {
  if (family != AF_UNSPEC && e.family != family) return false;
  if (proto && e.orig.proto != *proto) return false;
  if (origSrc && !SameAddr(e.orig.src, *origSrc)) return false;
  if (origDst && !SameAddr(e.orig.dst, *origDst)) return false;
  if (origDstPort && (!HasPorts(e.orig.proto) || e.orig.dstPort != origDstPort)) return false;
  if (replySrc || replySrcPort) {
    if (!e.reply) return false;
    if (replySrc && !SameAddr(e.reply->src, *replySrc)) return false;
    if (replySrcPort && (!HasPorts(e.reply->proto) || e.reply->srcPort != replySrcPort)) return false;
  }
  return true;
}

std::vector<uint8_t> EncodeDump(uint8_t family) {
  MsgBuilder b(MsgType(IPCTNL_MSG_CT_GET), NLM_F_REQUEST | NLM_F_DUMP);
  PutNfgen(b, family);
  return std::move(b).Finish();
}

std::vector<uint8_t> EncodeDelete(const Entry& e, bool withId) {
  if (e.family != AF_INET && e.family != AF_INET6)
    throw SysError(EINVAL, "IPCTNL_MSG_CT_DELETE", "entry without an IP family");
  MsgBuilder b(MsgType(IPCTNL_MSG_CT_DELETE), NLM_F_REQUEST | NLM_F_ACK);
  PutNfgen(b, e.family);
  PutTuple(b, CTA_TUPLE_ORIG, e.family, e.orig);
  if (e.zone) b.PutBe16(CTA_ZONE, *e.zone);
  if (withId && e.id) b.PutBe32(CTA_ID, *e.id);
  return std::move(b).Finish();
}

bool DecodeEntry(const uint8_t* msg, size_t len, Entry& out) {
  std::vector<nl::MsgView> views;
  if (!nl::SplitMessages(msg, len, views) || views.size() != 1) return false;
  const nl::MsgView& m = views[0];
  if (m.hdr->nlmsg_type != MsgType(IPCTNL_MSG_CT_NEW)) return false;
  const uint8_t* attrs;
  size_t alen;
  if (!nl::MessageAttrs(m, sizeof(nfgenmsg), &attrs, &alen)) return false;
  nfgenmsg g;
  std::memcpy(&g, m.payload, sizeof(g));
  if (g.nfgen_family != AF_INET && g.nfgen_family != AF_INET6) return false;
  out = Entry{};
  out.family = g.nfgen_family;

  std::vector<std::optional<Attr>> tb;
  if (!nl::ParseTable(attrs, alen, tb, CTA_MAX)) return false;
  if (!tb[CTA_TUPLE_ORIG] || !DecodeTuple(*tb[CTA_TUPLE_ORIG], out.family, out.orig)) return false;
  if (tb[CTA_TUPLE_REPLY]) {
    Tuple r;
    if (!DecodeTuple(*tb[CTA_TUPLE_REPLY], out.family, r)) return false;
    out.reply = r;
  }
  auto be32 = [&](uint16_t type, std::optional<uint32_t>& v) -> bool {
    if (!tb[type]) return true;
    v = tb[type]->Be32();
    return v.has_value();
  };
  if (!be32(CTA_STATUS, out.status) || !be32(CTA_TIMEOUT, out.timeout) || !be32(CTA_MARK, out.mark) ||
      !be32(CTA_ID, out.id) || !be32(CTA_USE, out.use))
    return false;
  if (tb[CTA_ZONE]) {
    out.zone = tb[CTA_ZONE]->Be16();
    if (!out.zone) return false;
  }
  if (tb[CTA_PROTOINFO]) {
    std::vector<std::optional<Attr>> pi;
    if (!nl::ParseTable(tb[CTA_PROTOINFO]->data, tb[CTA_PROTOINFO]->len, pi, CTA_PROTOINFO_MAX)) return false;
    if (pi[CTA_PROTOINFO_TCP]) {
      std::vector<std::optional<Attr>> tcp;
      if (!nl::ParseTable(pi[CTA_PROTOINFO_TCP]->data, pi[CTA_PROTOINFO_TCP]->len, tcp, CTA_PROTOINFO_TCP_MAX))
        return false;
      if (tcp[CTA_PROTOINFO_TCP_STATE]) {
        out.tcpState = tcp[CTA_PROTOINFO_TCP_STATE]->U8();
        if (!out.tcpState) return false;
      }
    }
  }
  return true;
}

namespace {

std::vector<Entry> DumpMatching(nl::Socket& sock, const Filter& f) {
  std::vector<nl::Request> reqs(1);
  reqs[0].msg = EncodeDump(f.family);
  reqs[0].dump = true;
  reqs[0].op = "IPCTNL_MSG_CT_GET";
  auto replies = sock.Transact(reqs);
  if (replies[0].err) throw SysError(replies[0].err, "IPCTNL_MSG_CT_GET", "", replies[0].extack);
  std::vector<Entry> out;
  for (const auto& m : replies[0].messages) {
    Entry e;
    // A message we cannot read is skipped, never guessed at: it is neither listed nor deleted.
    if (DecodeEntry(m.data(), m.size(), e) && f.Matches(e)) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<Entry> List(nl::Socket& sock, const Filter& f) { return DumpMatching(sock, f); }

size_t Delete(nl::Socket& sock, const Filter& f) {
  if (!f.Selective())
    throw SysError(EINVAL, "IPCTNL_MSG_CT_DELETE", "a delete needs a protocol, address or port to match");
  std::vector<Entry> victims = DumpMatching(sock, f);
  if (victims.empty()) return 0;
  std::vector<nl::Request> reqs(victims.size());
  for (size_t i = 0; i < victims.size(); i++) {
    reqs[i].msg = EncodeDelete(victims[i]);
    reqs[i].op = "IPCTNL_MSG_CT_DELETE";
  }
  auto replies = sock.Transact(reqs);
  size_t removed = 0;
  int firstErr = -1;
  for (size_t i = 0; i < replies.size(); i++) {
    int err = replies[i].err;
    if (err == 0) removed++;
    // ENOENT: the entry expired meanwhile, or its tuple now belongs to a newer entry (CTA_ID).
    else if (err != ENOENT && firstErr < 0)
      firstErr = static_cast<int>(i);
  }
  if (firstErr >= 0) {
    const nl::Reply& r = replies[static_cast<size_t>(firstErr)];
    SysError e(r.err, "IPCTNL_MSG_CT_DELETE",
               "(" + std::to_string(removed) + " of " + std::to_string(victims.size()) + " removed)", r.extack);
    e.opIndex = firstErr;
    throw e;
  }
  return removed;
}

}  // namespace nk::ct
