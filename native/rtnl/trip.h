// One trip of rtnetlink operations: what Network.connect sends to wire a container (a veth born
// in the container, addresses, routes, sysctls) as ONE job on a namespace thread. Consecutive
// operations on one namespace are pipelined on its socket; a sysctl write runs in its place; an
// address given by interface name has the interface looked up when its turn comes (it may be
// this trip's); after a refused operation the rest is not run. Plain C++: namespaces are
// TripTargets (native/ns/state.h), so a test can run a trip against a recording fake.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../nl/socket.h"
#include "addr.h"
#include "link.h"
#include "neigh.h"
#include "route.h"

namespace nk::rtnl {

// What a trip needs of a namespace. Each call takes the namespace's lock.
class TripTarget {
 public:
  virtual ~TripTarget() = default;
  // Sends the requests on the namespace's rtnetlink socket (nl::Socket::Transact).
  virtual std::vector<nl::Reply> Transact(std::vector<nl::Request>& reqs) = 0;
  // Writes `value` to /proc/sys/net/`rel` inside the namespace; throws SysError.
  virtual void WriteSysctl(const std::string& rel, const std::string& value) = 0;
};

// One operation as the caller describes it: its kind ("link.create", "addr.add", ...) and the
// fields that kind takes (the others stay at their defaults).
struct OpSpec {
  std::string kind;
  std::optional<uint32_t> group;       // link.delete by group (`ip link delete group N`)
  LinkSpec link;                       // link.create, link.set
  AddrSpec addr;                       // addr.add, addr.delete
  RouteSpec route;                     // route.add, route.replace, route.delete
  NeighSpec neigh;                     // fdb.add/append/replace/delete, neigh.add/replace/delete
  int32_t index = 0;                   // link.delete, link.get, addr.list, fdb.list, neigh.list, netconf.get (-1: all)
  std::string name;                    // link.delete, link.get
  uint8_t family = 0;                  // AF_INET, AF_INET6 or AF_UNSPEC: addr.list, route.list, neigh.list
  bool ignoreMissing = false;          // deletes (and sysctl.set) that tolerate a missing object
  std::string linkName;                // addr.add by interface name (addr.index 0)
  std::string sysctlKey, sysctlValue;  // sysctl.set: a path below /proc/sys/net
};

enum class ResultKind { None, Link, Links, Addrs, Routes, Neighs, Netconf };

// One operation, built: its messages (usually one; link.set with bridge-port flags has two).
struct Op {
  std::shared_ptr<TripTarget> ns;           // whose socket carries it
  std::vector<std::shared_ptr<void>> refs;  // namespaces named by fd inside the messages, kept open
  std::vector<nl::Request> reqs;
  ResultKind result = ResultKind::None;
  bool ignoreMissing = false;  // ENOENT/ENODEV/ESRCH/EADDRNOTAVAIL is success
  // addr.add by interface name: its message is built once the index is known.
  std::string linkName;
  std::optional<AddrSpec> addrByName;
  bool sysctl = false;
  std::string sysctlKey, sysctlValue;
};

struct OpResult {
  int err = 0;  // positive errno of a refusal
  std::string extack, syscall;
  std::vector<LinkInfo> links;
  std::vector<AddrInfo> addrs;
  std::vector<RouteInfo> routes;
  std::vector<NeighInfo> neighs;
  std::optional<int32_t> forwarding;  // netconf.get: NETCONFA_FORWARDING
  bool notRun = false;                // an earlier operation was refused
};

// Builds the messages of an operation (ns and refs are the caller's). Throws
// std::invalid_argument for an unknown kind, a sysctl key outside /proc/sys/net, or an
// addr.add with neither index nor linkName.
Op BuildOp(const OpSpec& spec);

// Runs the operations as one trip; one result per operation. Throws SysError when a socket
// fails (a refusal of the kernel is a result, not an exception).
std::vector<OpResult> RunTrip(std::vector<Op>& ops);

// The request of one message (seq and pid set by the socket).
nl::Request MakeRequest(std::vector<uint8_t> msg, const char* op, bool dump = false, bool reply = false);

}  // namespace nk::rtnl
