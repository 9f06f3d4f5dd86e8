// rtnetlink notifications (`ip monitor link address route neigh`): a subscription socket, the
// decoding of RTM_NEW*/RTM_DEL* notifications with the same decoders as the dumps, and a reader
// that turns what one wakeup finds on the socket into events, losses included.
// Plain C++: no N-API (native/napi/watch.cc drives it from the Node event loop).
//
// Losses: when the socket's receive buffer is full the kernel drops notifications and the next
// recvmsg fails with ENOBUFS (then the messages queued before the drop follow). The reader then
// discards everything up to the moment the socket is empty and reports one overrun: from that
// point a fresh dump, taken by the caller, is newer than anything discarded, and every later
// notification is still queued for it. A datagram larger than the read buffer (MSG_TRUNC) is a
// loss too.
#pragma once

#include <linux/filter.h>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "addr.h"
#include "link.h"
#include "neigh.h"
#include "route.h"

namespace nk::rtnl {

enum class EventGroup : uint8_t { Link, Address, Route, Neighbour };

// "link", "address", "route", "neighbour" (the names the API uses). False for anything else.
bool ParseEventGroup(const std::string& name, EventGroup* out);
const char* EventGroupName(EventGroup g);
// The RTNLGRP_* multicast groups behind a name: both families where the kernel has two.
std::vector<uint32_t> MulticastGroups(EventGroup g);

// Opens a subscription socket in the calling thread's network namespace: NETLINK_ROUTE,
// non-blocking, close-on-exec, a member of every group in `groups` (NETLINK_ADD_MEMBERSHIP),
// receive buffer `rcvbuf` bytes (SO_RCVBUFFORCE, else SO_RCVBUF within net.core.rmem_max; the
// kernel doubles the value for its bookkeeping). Notifications whose nlmsg_type is in `drop`
// (RTM_NEWLINK, ...) are dropped by the kernel before they are queued: a classic BPF socket
// filter (SO_ATTACH_FILTER), attached before the socket joins any group, so no wakeup, copy or
// receive-buffer space is spent on them. A kernel that refuses the filter gets the socket without
// it (the caller must still skip those types). Throws SysError; nothing is left open on failure.
int OpenMonitor(const std::vector<uint32_t>& groups, int rcvbuf, const std::vector<uint16_t>& drop = {});

// The classic BPF program OpenMonitor attaches for `drop` (empty for no types): exposed for tests.
std::vector<sock_filter> TypeFilter(const std::vector<uint16_t>& drop);

struct Event {
  EventGroup group = EventGroup::Link;
  bool del = false;  // RTM_DEL*; RTM_NEW* otherwise
  LinkInfo link;     // group Link
  AddrInfo addr;     // group Address
  RouteInfo route;   // group Route
  NeighInfo neigh;   // group Neighbour (ARP/NDP entries and, family AF_BRIDGE, FDB entries)
};

enum class DecodeResult {
  Event,    // `out` holds the event
  Ignored,  // not an event of ours: another message type, a cloned (cache) route, or a bridge
            // port notification (RTM_NEWLINK/RTM_DELLINK of family AF_BRIDGE: a port joining or
            // leaving a bridge, not a link coming or going)
  Malformed,
};
// Decodes one notification (whole, with nlmsghdr). RTM_DEL* carry the same body as RTM_NEW*
// and go through the same decoders (DecodeLink, DecodeAddr, DecodeRoute, DecodeNeigh).
DecodeResult DecodeEvent(const uint8_t* msg, size_t len, Event& out);

class MonitorReader {
 public:
  // Reads one datagram into buf (capacity cap): returns its length or -errno, sets *truncated
  // when it did not fit (MSG_TRUNC) and *fromKernel when the sender is the kernel (port 0).
  using RecvFn = std::function<ssize_t(uint8_t* buf, size_t cap, bool* truncated, bool* fromKernel)>;
  // recvmsg(MSG_DONTWAIT) on a netlink socket.
  static RecvFn FromFd(int fd);

  explicit MonitorReader(RecvFn recv, size_t bufSize = 64 * 1024);

  struct Batch {
    std::vector<Event> events;  // in the order the kernel sent them
    bool overrun = false;       // notifications were lost: the batch ends here, the socket was
                                // empty a moment ago, a dump taken now is newer than every loss
    int err = 0;                // a socket failure (positive errno): the batch ends here
    bool again = false;         // the socket is empty
  };
  // Reads at most `maxDatagrams` datagrams (a bounded amount of work per wakeup).
  Batch Read(size_t maxDatagrams);

  struct Stats {
    uint64_t datagrams = 0, messages = 0, events = 0, ignored = 0, malformed = 0, overruns = 0, discarded = 0,
             foreign = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  RecvFn recv_;
  std::vector<uint8_t> buf_;
  bool discarding_ = false;
  Stats stats_;
};

}  // namespace nk::rtnl
