#include "monitor.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "../nl/attr.h"
#include "../nl/error.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace nk::rtnl {

bool ParseEventGroup(const std::string& name, EventGroup* out) {
  if (name == "link")
    *out = EventGroup::Link;
  else if (name == "address")
    *out = EventGroup::Address;
  else if (name == "route")
    *out = EventGroup::Route;
  else if (name == "neighbour")
    *out = EventGroup::Neighbour;
  else
    return false;
  return true;
}

const char* EventGroupName(EventGroup g) {
  switch (g) {
    case EventGroup::Link:
      return "link";
    case EventGroup::Address:
      return "address";
    case EventGroup::Route:
      return "route";
    case EventGroup::Neighbour:
      return "neighbour";
  }
  return "?";
}

std::vector<uint32_t> MulticastGroups(EventGroup g) {
  switch (g) {
    case EventGroup::Link:
      return {RTNLGRP_LINK};
    case EventGroup::Address:
      return {RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR};
    case EventGroup::Route:
      return {RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE};
    case EventGroup::Neighbour:
      return {RTNLGRP_NEIGH};
  }
  return {};
}

std::vector<sock_filter> TypeFilter(const std::vector<uint16_t>& drop) {
  // A notification is one message per datagram: its nlmsghdr is at offset 0. BPF_ABS half-word
  // loads are big-endian, so the host-order nlmsg_type reads as htons(type) on either byte order.
  std::vector<sock_filter> prog;
  if (drop.empty() || drop.size() > 64) return prog;  // watch.cc takes at most 64
  prog.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, offsetof(nlmsghdr, nlmsg_type)));
  const size_t n = drop.size();
  for (size_t i = 0; i < n; i++)
    // Equal: jump over the remaining comparisons and the accept, to the drop.
    prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(drop[i]), static_cast<uint8_t>(n - i), 0));
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));  // keep the whole datagram
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0));            // drop it
  return prog;
}

int OpenMonitor(const std::vector<uint32_t>& groups, int rcvbuf, const std::vector<uint16_t>& drop) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) ThrowErrno("socket", "AF_NETLINK");
  try {
    std::vector<sock_filter> prog = TypeFilter(drop);
    if (!prog.empty()) {
      sock_fprog fp{static_cast<unsigned short>(prog.size()), prog.data()};
      // Only a saving: where a kernel refuses it (gVisor-like sandboxes), the readers leave the
      // types out themselves (the JS watch by type, the unregister monitor by ev.del).
      (void)::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp));
    }
    if (rcvbuf > 0 && ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0 &&
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0)
      ThrowErrno("setsockopt", "SO_RCVBUF");
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) ThrowErrno("bind", "AF_NETLINK");
    for (uint32_t g : groups) {
      if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) != 0)
        ThrowErrno("setsockopt", "NETLINK_ADD_MEMBERSHIP " + std::to_string(g));
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  return fd;
}

namespace {

// The RTM_NEW* type a decoder expects for a notification type, or 0 for a type we do not decode.
uint16_t NewTypeOf(uint16_t type, EventGroup* group, bool* del) {
  *del = false;
  switch (type) {
    case RTM_DELLINK:
      *del = true;
      [[fallthrough]];
    case RTM_NEWLINK:
      *group = EventGroup::Link;
      return RTM_NEWLINK;
    case RTM_DELADDR:
      *del = true;
      [[fallthrough]];
    case RTM_NEWADDR:
      *group = EventGroup::Address;
      return RTM_NEWADDR;
    case RTM_DELROUTE:
      *del = true;
      [[fallthrough]];
    case RTM_NEWROUTE:
      *group = EventGroup::Route;
      return RTM_NEWROUTE;
    case RTM_DELNEIGH:
      *del = true;
      [[fallthrough]];
    case RTM_NEWNEIGH:
      *group = EventGroup::Neighbour;
      return RTM_NEWNEIGH;
    default:
      return 0;
  }
}

}  // namespace

DecodeResult DecodeEvent(const uint8_t* msg, size_t len, Event& out) {
  std::vector<nl::MsgView> views;
  if (!nl::SplitMessages(msg, len, views) || views.size() != 1) return DecodeResult::Malformed;
  EventGroup group;
  bool del;
  uint16_t newType = NewTypeOf(views[0].hdr->nlmsg_type, &group, &del);
  if (!newType) return DecodeResult::Ignored;
  if (group == EventGroup::Link) {
    // A bridge's port notifications (family AF_BRIDGE) share the link messages' types.
    if (views[0].payloadLen < sizeof(ifinfomsg)) return DecodeResult::Malformed;
    ifinfomsg ifi;
    std::memcpy(&ifi, views[0].payload, sizeof(ifi));
    if (ifi.ifi_family == AF_BRIDGE) return DecodeResult::Ignored;
  }
  // The decoders take RTM_NEW* only: hand them a copy with the type rewritten (same body).
  const uint8_t* p = msg;
  std::vector<uint8_t> copy;
  if (del) {
    copy.assign(msg, msg + len);
    std::memcpy(copy.data() + offsetof(nlmsghdr, nlmsg_type), &newType, sizeof(newType));
    p = copy.data();
  }
  out = Event{};
  out.group = group;
  out.del = del;
  bool ok = false;
  switch (group) {
    case EventGroup::Link:
      ok = DecodeLink(p, len, out.link);
      break;
    case EventGroup::Address:
      ok = DecodeAddr(p, len, out.addr);
      break;
    case EventGroup::Route:
      ok = DecodeRoute(p, len, out.route);
      if (ok && (out.route.flags & RTM_F_CLONED)) return DecodeResult::Ignored;  // as the route dumps
      break;
    case EventGroup::Neighbour:
      ok = DecodeNeigh(p, len, out.neigh);
      break;
  }
  return ok ? DecodeResult::Event : DecodeResult::Malformed;
}

MonitorReader::RecvFn MonitorReader::FromFd(int fd) {
  return [fd](uint8_t* buf, size_t cap, bool* truncated, bool* fromKernel) -> ssize_t {
    sockaddr_nl from{};
    iovec iov{buf, cap};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &mh, MSG_DONTWAIT);
    if (n < 0) return -errno;
    *truncated = (mh.msg_flags & MSG_TRUNC) != 0;
    *fromKernel = from.nl_pid == 0;
    return n;
  };
}

MonitorReader::MonitorReader(RecvFn recv, size_t bufSize) : recv_(std::move(recv)), buf_(bufSize) {}

MonitorReader::Batch MonitorReader::Read(size_t maxDatagrams) {
  Batch b;
  std::vector<nl::MsgView> views;
  size_t reads = 0;
  while (reads < maxDatagrams) {
    bool truncated = false, fromKernel = false;
    ssize_t n = recv_(buf_.data(), buf_.size(), &truncated, &fromKernel);
    if (n == -EINTR) continue;
    reads++;
    if (n == -EAGAIN || n == -EWOULDBLOCK) {
      if (discarding_) {  // drained: report the loss now, a dump from here on is newer than it
        discarding_ = false;
        b.overrun = true;
        return b;
      }
      b.again = true;
      return b;
    }
    if (n == -ENOBUFS) {
      if (!discarding_) stats_.overruns++;
      discarding_ = true;
      continue;
    }
    if (n < 0) {
      b.err = static_cast<int>(-n);
      return b;
    }
    stats_.datagrams++;
    if (discarding_) {
      stats_.discarded++;
      continue;
    }
    if (truncated) {  // a datagram we could not read whole is lost
      stats_.overruns++;
      stats_.discarded++;
      discarding_ = true;
      continue;
    }
    if (!fromKernel) {  // only the kernel sends notifications
      stats_.foreign++;
      continue;
    }
    views.clear();
    bool whole = nl::SplitMessages(buf_.data(), static_cast<size_t>(n), views);
    if (!whole) stats_.malformed++;
    for (const nl::MsgView& m : views) {
      stats_.messages++;
      Event ev;
      switch (DecodeEvent(reinterpret_cast<const uint8_t*>(m.hdr), m.hdr->nlmsg_len, ev)) {
        case DecodeResult::Event:
          stats_.events++;
          b.events.push_back(std::move(ev));
          break;
        case DecodeResult::Ignored:
          stats_.ignored++;
          break;
        case DecodeResult::Malformed:
          stats_.malformed++;
          break;
      }
    }
  }
  return b;
}

}  // namespace nk::rtnl
