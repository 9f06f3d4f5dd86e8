// Named network namespaces exactly as iproute2 makes them, opening by path, sysctls.
// Plain C++; every function here runs on a ThreadPool worker (native/ns/thread.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace nk::ns {

struct NsId {
  uint64_t dev = 0;
  uint64_t ino = 0;
};

// `ip netns add NAME`: /run/netns made a shared mount (once), an empty file
// /run/netns/NAME, unshare(CLONE_NEWNET) on this worker, the new namespace bind-mounted
// onto the file, then the worker goes home. Returns an O_CLOEXEC fd of the namespace.
// On failure nothing is left behind (the file is unmounted and removed).
int CreateNamed(const std::string& dir, const std::string& name, NsId* id);

// Opens a namespace file (a name's file, /proc/PID/ns/net, ...) and checks it is a network
// namespace. Returns an O_CLOEXEC fd.
int OpenNetns(const std::string& path, NsId* id);

// `ip netns del NAME`: lazy unmount, then unlink. Returns false if it did not exist.
bool DeleteNamed(const std::string& dir, const std::string& name);

// A namespace's /proc/sys/net/FIRST directories (ipv4, ipv6, core, ...), opened inside it once
// and kept. A path looked up from /proc/sys/net costs more the more namespaces the host has
// (every namespace's `ipv4` dentry hangs off the one /proc/sys/net dentry, in one hash chain:
// 7 us with one namespace, 200 us with 1,000); looked up from the namespace's own directory it
// does not. The first lookup of FIRST, which would walk that chain three times (1-2 ms with
// 1,000), goes through a procfs instance of the namespace's own (netns.cc). Not thread-safe:
// used under the namespace's lock.
class SysctlDirs {
 public:
  SysctlDirs() = default;
  SysctlDirs(const SysctlDirs&) = delete;
  SysctlDirs& operator=(const SysctlDirs&) = delete;
  ~SysctlDirs() { Clear(); }
  void Clear();
  // Opens /proc/sys/net/`rel` (validated: no "..", not absolute) of the namespace the calling
  // thread is in (the caller holds InNetns of this namespace).
  int Open(const std::string& rel, int flags);

 private:
  std::map<std::string, int> dirs_;
  // sys/net of a procfs instance of this namespace's own (netns.cc), once opened. Like any
  // /proc/sys/net directory it shows the namespace of the thread that looks through it: used
  // only inside InNetns(nsfd) of this namespace.
  int net_ = -1;
  bool netTried_ = false;  // opened, or refused for good (then /proc/sys/net as before)
};

// net.* sysctls read and written inside the namespace `fd` (the file opened and read or written
// there: the calling thread setns()es in and back).
// `rel` is the path below /proc/sys/net, already validated ("ipv4/ip_forward").
std::string SysctlRead(int fd, SysctlDirs& dirs, const std::string& rel);
void SysctlWrite(int fd, SysctlDirs& dirs, const std::string& rel, const std::string& value);

}  // namespace nk::ns
