// A network namespace held open by the addon: its fd and the netlink sockets opened inside it
// (lazily, on a namespace thread). Shared by the JS handle (native/napi/handle.h) and the jobs
// running on it. Plain C++ (no N-API); a TripTarget for the rtnetlink trips (native/rtnl/trip.h).
#pragma once

#include <linux/netlink.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../nl/error.h"
#include "../nl/socket.h"
#include "../rtnl/trip.h"
#include "netns.h"
#include "thread.h"

namespace nk::ns {

struct NsState : rtnl::TripTarget {
  std::mutex mu;
  int fd = -1;
  NsId id;
  std::unique_ptr<nl::Socket> rtnl;
  std::unique_ptr<nl::Socket> nft;
  std::unique_ptr<nl::Socket> ct;    // ctnetlink (NETLINK_NETFILTER), see native/napi/ct.cc
  std::unique_ptr<nl::Socket> diag;  // NETLINK_SOCK_DIAG (inet_diag), see native/napi/diag.cc
  SysctlDirs sysctlDirs;             // its /proc/sys/net/FIRST directories (netns.h)
  bool closed = false;

  ~NsState() override {
    rtnl.reset();
    nft.reset();
    ct.reset();
    diag.reset();
    if (fd >= 0) ::close(fd);
  }
  // Call with mu held, on a namespace thread.
  nl::Socket& Rtnl() { return Open(rtnl, NETLINK_ROUTE); }
  // Call with mu held, on a namespace thread.
  nl::Socket& Nft() { return Open(nft, NETLINK_NETFILTER); }
  // Call with mu held, on a namespace thread.
  nl::Socket& Ct() { return Open(ct, NETLINK_NETFILTER); }
  // Call with mu held, on a namespace thread.
  nl::Socket& Diag() { return Open(diag, NETLINK_SOCK_DIAG); }
  // A socket of `protocol` of its own in this namespace, for a question that leaves it unusable
  // (a dump cut short). Call with mu held, on a namespace thread.
  std::unique_ptr<nl::Socket> OpenFresh(int protocol) {
    if (closed) throw SysError(EBADF, "netns", "the namespace handle is closed");
    InNetns in(fd);
    return std::make_unique<nl::Socket>(protocol);
  }

  // TripTarget: on a namespace thread; each takes the namespace's lock.
  std::vector<nl::Reply> Transact(std::vector<nl::Request>& reqs) override {
    std::lock_guard<std::mutex> lk(mu);
    return Rtnl().Transact(reqs);
  }
  void WriteSysctl(const std::string& rel, const std::string& value) override {
    std::lock_guard<std::mutex> lk(mu);
    if (closed) throw SysError(EBADF, "netns", "the namespace handle is closed");
    SysctlWrite(fd, sysctlDirs, rel, value);
  }

 private:
  nl::Socket& Open(std::unique_ptr<nl::Socket>& s, int protocol) {
    if (closed) throw SysError(EBADF, "netns", "the namespace handle is closed");
    if (!s) {
      InNetns in(fd);
      s = std::make_unique<nl::Socket>(protocol);
    }
    return *s;
  }
};

}  // namespace nk::ns
