// Connection tracking over ctnetlink (NFNL_SUBSYS_CTNETLINK): dump, decode, delete.
// Plain C++: no N-API, testable byte for byte without Node and without root. The socket is
// a NETLINK_NETFILTER nl::Socket opened inside the namespace whose table it reads.
//
// Byte order follows ctnetlink: addresses and ports are network order on the wire,
// CTA_STATUS / CTA_TIMEOUT / CTA_MARK / CTA_ID / CTA_USE are be32, CTA_ZONE is be16.
// Every value below is in host order.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "../nl/socket.h"
#include "../rtnl/ip.h"

namespace nk::ct {

// One direction of a connection (CTA_TUPLE_ORIG or CTA_TUPLE_REPLY).
struct Tuple {
  rtnl::IpAddr src, dst;                     // CTA_TUPLE_IP: CTA_IP_V4_* / CTA_IP_V6_*
  uint8_t proto = 0;                         // CTA_PROTO_NUM
  std::optional<uint16_t> srcPort, dstPort;  // CTA_PROTO_SRC_PORT / DST_PORT (tcp, udp, sctp, dccp, udplite, gre keys)
  std::optional<uint16_t> icmpId;            // CTA_PROTO_ICMP_ID / CTA_PROTO_ICMPV6_ID
  std::optional<uint8_t> icmpType, icmpCode;
  std::optional<uint16_t> zone;  // CTA_TUPLE_ZONE (a zone in one direction only)
};

// One conntrack entry as a dump reports it (IPCTNL_MSG_CT_NEW).
struct Entry {
  uint8_t family = 0;  // nfgen_family: AF_INET or AF_INET6
  Tuple orig;
  std::optional<Tuple> reply;
  std::optional<uint32_t> status;   // IPS_* bits
  std::optional<uint32_t> timeout;  // seconds left
  std::optional<uint32_t> mark;
  std::optional<uint32_t> id;  // CTA_ID: tells a reused tuple from the entry we saw
  std::optional<uint32_t> use;
  std::optional<uint16_t> zone;     // CTA_ZONE
  std::optional<uint8_t> tcpState;  // CTA_PROTOINFO_TCP_STATE (TCP_CONNTRACK_*)
};

// What list/delete select. Unset fields match everything; family AF_UNSPEC both families.
struct Filter {
  uint8_t family = 0;  // AF_UNSPEC, AF_INET or AF_INET6 (also sent to the kernel)
  std::optional<uint8_t> proto;
  std::optional<rtnl::IpAddr> origSrc, origDst, replySrc;
  std::optional<uint16_t> origDstPort, replySrcPort;

  bool Matches(const Entry& e) const;
  // True when the filter selects something narrower than "every entry of a family".
  bool Selective() const { return proto || origSrc || origDst || replySrc || origDstPort || replySrcPort; }
};

// IPCTNL_MSG_CT_GET with NLM_F_DUMP; family AF_UNSPEC dumps both (the kernel filters on it).
std::vector<uint8_t> EncodeDump(uint8_t family);

// IPCTNL_MSG_CT_DELETE of one entry: its original tuple, CTA_ZONE when it has one, and
// CTA_ID when known and `withId`, so that a tuple reused by a newer connection is not hit.
// Always carries a tuple: a CT_DELETE without one would flush the whole table.
std::vector<uint8_t> EncodeDelete(const Entry& e, bool withId = true);

// Decodes one IPCTNL_MSG_CT_NEW message (whole, with nlmsghdr). False if it is malformed
// or lacks an original tuple with both addresses and the protocol number.
bool DecodeEntry(const uint8_t* msg, size_t len, Entry& out);

// The entries matching `f`, read with one dump (retried by the socket when interrupted).
// Throws SysError("IPCTNL_MSG_CT_GET") when the kernel refuses the dump.
std::vector<Entry> List(nl::Socket& sock, const Filter& f);

// Deletes the entries matching `f`: one dump, then one pipelined batch of deletes (by
// original tuple and CTA_ID). An entry gone meanwhile (ENOENT) is not an error. Returns
// how many were removed. Any other refusal throws SysError("IPCTNL_MSG_CT_DELETE") for the
// first one, after every delete has been answered; its detail says how many were removed
// (a conntrack deletion cannot be undone, so there is nothing to roll back).
// Refuses (EINVAL) a filter that is not Selective(): flushing is not what this is for.
size_t Delete(nl::Socket& sock, const Filter& f);

}  // namespace nk::ct
