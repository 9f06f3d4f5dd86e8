// sock_diag (NETLINK_SOCK_DIAG, inet_diag): the sockets of a namespace that hold ports, as
// `ss -ltnu` lists them. Plain C++: no N-API, testable byte for byte without Node and root.
//
// One SOCK_DIAG_BY_FAMILY dump per (family, protocol), each filtered in the kernel by state and,
// when asked, by source port with INET_DIAG bytecode exactly as `ss 'sport = :P'` and
// `ss 'sport >= :A and sport <= :B'` send it: checking one port returns that port's sockets
// only, not every socket of the namespace. The socket is an nl::Socket(NETLINK_SOCK_DIAG) opened
// inside the namespace (native/napi/handle.h keeps one per namespace).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../nl/socket.h"

namespace nk::diag {

// TCP states as inet_diag numbers them (<net/tcp_states.h>): the bits of Query::states.
constexpr uint8_t kTcpEstablished = 1;
constexpr uint8_t kTcpClose = 7;  // an unconnected (bound) UDP socket; a closed SCTP endpoint
constexpr uint8_t kTcpListen = 10;

struct Query {
  uint8_t family = 0;    // AF_INET or AF_INET6 (inet_diag has no AF_UNSPEC dump)
  uint8_t protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP
  uint32_t states = 0;   // 1 << kTcpListen, ...
  // The kernel-side port filter: one port, or an inclusive range (first <= last).
  std::optional<uint16_t> port;
  std::optional<uint16_t> portFirst, portLast;
};

// The states `ss -l` asks for (LISTEN and CLOSE), which this module lists: listening TCP and
// SCTP sockets, unconnected UDP sockets. TCP sockets that are bound but neither listening nor
// connected are not reported by inet_diag for these bits (they need TCPF_BOUND_INACTIVE).
constexpr uint32_t kListeningStates = (1u << kTcpListen) | (1u << kTcpClose);

// INET_DIAG_REQ_BYTECODE programs, as iproute2's ss compiles them:
//   `sport = :P`                  one INET_DIAG_BC_S_COND with an AF_UNSPEC host condition
//   `sport >= :A and sport <= :B` INET_DIAG_BC_S_GE then INET_DIAG_BC_S_LE
std::vector<uint8_t> PortBytecode(uint16_t port);
std::vector<uint8_t> PortRangeBytecode(uint16_t first, uint16_t last);

// One SOCK_DIAG_BY_FAMILY dump request (inet_diag_req_v2 and the bytecode, if any). Throws
// SysError(EINVAL) for a family or protocol inet_diag does not dump, or an empty range.
std::vector<uint8_t> EncodeDump(const Query& q);

struct SockInfo {
  uint8_t family = 0;    // AF_INET or AF_INET6
  uint8_t protocol = 0;  // IPPROTO_*: the query's, or INET_DIAG_PROTOCOL when the kernel sends it
  uint8_t state = 0;     // kTcpListen, kTcpClose, ...
  std::string address;   // local address ("0.0.0.0", "::", "127.0.0.1")
  uint16_t port = 0;     // local port (host order)
  std::string peer;      // remote address ("" when unconnected: all zeros)
  uint16_t peerPort = 0;
  uint32_t ifindex = 0;  // the device the socket is bound to (SO_BINDTODEVICE), 0 if none
  uint32_t uid = 0;
  uint32_t inode = 0;
  uint64_t cookie = 0;
  uint32_t rqueue = 0, wqueue = 0;   // listening: accept queue and backlog; others: queued bytes
  std::optional<bool> v6only;        // INET_DIAG_SKV6ONLY (IPv6 sockets that listen or are unconnected)
  std::optional<uint64_t> cgroupId;  // INET_DIAG_CGROUP_ID
  std::vector<std::string> locals;   // INET_DIAG_LOCALS: every local address of an SCTP endpoint
};

// Decodes one SOCK_DIAG_BY_FAMILY reply (whole, with nlmsghdr). `protocol` is the query's
// (inet_diag_msg has no protocol field). False if the message is malformed.
bool DecodeSock(const uint8_t* msg, size_t len, uint8_t protocol, SockInfo& out);

struct Result {
  int err = 0;  // positive errno of the dump (ENOENT: no diag module for the protocol)
  std::string extack;
  std::vector<SockInfo> sockets;
};

// Runs the queries on `s` (a NETLINK_SOCK_DIAG socket), one dump each, and decodes the replies.
// A dump the kernel refuses lands in its Result::err; socket failures throw SysError; a reply
// that does not decode fails the whole listing with EPROTO (a port check must not miss a socket).
std::vector<Result> List(nl::Socket& s, const std::vector<Query>& queries);

}  // namespace nk::diag
