// Link deletes that return once the kernel has unregistered the links, not once it has freed them.
//
// An RTM_DELLINK that removes devices is answered only after netdev_run_todo: the kernel drops
// RTNL, waits for an RCU barrier (~20-25 ms here, whatever the load) and for the devices'
// references, then acknowledges. The devices left the namespace well before that: under RTNL,
// unregister_netdevice_many unlists every device of the batch (names, indexes, addresses, routes
// and bridge ports are gone), then sends one RTM_DELLINK notification per device to RTNLGRP_LINK.
// So the caller may go on at the notification: what follows is memory being freed, which nobody
// can observe through netlink (measured: the notifications of an 8-veth group delete ~2 ms into
// the call, its ACK ~20 ms).
//
// DeleteAndWatch sends the delete on a socket of its own from a thread of its own (which waits out
// the ACK and closes the socket) and returns at the first of: every link of `indexes` notified
// deleted by the subscription socket `monitorFd`, or the ACK (or refusal). A notification lost to
// an overrun only means waiting for the ACK. Plain C++: no N-API.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "../nl/socket.h"

namespace nk::rtnl {

struct UnregisterOutcome {
  bool notified = false;  // returned at the notifications; the ACK was not waited for
  nl::Reply reply;        // the ACK or refusal when !notified
};

// `sock`: an rtnetlink socket and `monitorFd`: a subscription socket (OpenMonitor, RTNLGRP_LINK,
// non-blocking), both opened in the namespace of the links; DeleteAndWatch owns both. `req`: one
// RTM_DELLINK (by index or by group). `indexes`: the links it deletes whose notifications are
// awaited (empty: the ACK is awaited). `group`: when set, a notification counts only for a link
// of that group (an index reused meanwhile is not mistaken for ours). Throws SysError when a
// socket fails before the outcome is known.
// Beyond 32 senders in flight (threads still waiting for their ACK), or when a thread or an eventfd
// cannot be had, or with no monitor socket (monitorFd < 0) or no `indexes`, the ACK is awaited on
// the calling thread instead (notified = false).
UnregisterOutcome DeleteAndWatch(std::unique_ptr<nl::Socket> sock, int monitorFd, nl::Request req,
                                 std::vector<int32_t> indexes, std::optional<uint32_t> group);

}  // namespace nk::rtnl
