#include "unregister.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <set>
#include <thread>

#include "../nl/error.h"
#include "monitor.h"

namespace nk::rtnl {

namespace {

// What the sending thread leaves for the waiting one; shared so that either may finish first.
struct Shared {
  std::mutex mu;
  bool done = false;
  nl::Reply reply;
  std::optional<SysError> error;
  int efd = -1;  // written once `done`
  ~Shared() {
    if (efd >= 0) ::close(efd);
  }
};

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

UnregisterOutcome DeleteAndWatch(std::unique_ptr<nl::Socket> sock, int monitorFd, nl::Request req,
                                 std::vector<int32_t> indexes, std::optional<uint32_t> group) {
  Fd mon{monitorFd};
  auto sh = std::make_shared<Shared>();
  sh->efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sh->efd < 0) ThrowErrno("eventfd");
  // The sender: a plain thread (it never changes namespace: the socket already lives in the
  // links' namespace), detached, so that its wait for the ACK is nobody's.
  std::thread([sh, sock = std::move(sock), req = std::move(req)]() mutable {
    std::vector<nl::Request> reqs;
    reqs.push_back(std::move(req));
    nl::Reply reply;
    std::optional<SysError> error;
    try {
      reply = sock->Transact(reqs).at(0);
    } catch (const SysError& e) {
      error = e;
    } catch (const std::exception& e) {
      error = SysError(EIO, "RTM_DELLINK", e.what());
    }
    sock.reset();
    std::lock_guard<std::mutex> lk(sh->mu);
    sh->reply = std::move(reply);
    sh->error = std::move(error);
    sh->done = true;
    uint64_t one = 1;
    (void)!::write(sh->efd, &one, sizeof(one));
  }).detach();

  std::set<int32_t> pending(indexes.begin(), indexes.end());
  MonitorReader reader(MonitorReader::FromFd(mon.fd));
  bool watching = !pending.empty();
  for (;;) {
    pollfd pfds[2] = {{sh->efd, POLLIN, 0}, {mon.fd, POLLIN, 0}};
    int n = ::poll(pfds, watching ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("poll");
    }
    {
      std::lock_guard<std::mutex> lk(sh->mu);
      if (sh->done) {
        if (sh->error) throw *sh->error;
        UnregisterOutcome out;
        out.reply = sh->reply;
        return out;
      }
    }
    if (!watching || !(pfds[1].revents & (POLLIN | POLLERR))) continue;
    auto b = reader.Read(64);
    for (const auto& ev : b.events) {
      if (ev.group != EventGroup::Link || !ev.del) continue;
      if (group && ev.link.group != *group) continue;
      pending.erase(ev.link.index);
    }
    if (pending.empty()) {
      UnregisterOutcome out;
      out.notified = true;
      return out;
    }
    if (b.overrun || b.err) watching = false;  // a notification may be lost: the ACK decides
  }
}

}  // namespace nk::rtnl
