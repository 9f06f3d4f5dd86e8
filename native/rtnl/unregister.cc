#include "unregister.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "../nl/error.h"
#include "monitor.h"

namespace nk::rtnl {

namespace {

// Senders in flight: each is a thread holding its rtnetlink socket and an eventfd until the
// kernel's ACK, which comes an RCU barrier (~20-25 ms) after the notification the caller returned
// at. Without a bound, a burst of deletes (thousands of Link.delete() at once) started a thread
// and two fds per delete: 2,000 at once under a 1,024-fd limit failed 710 with EMFILE, the
// process's other open() calls too. Beyond the bound, and whenever a thread or an eventfd cannot
// be had, the delete waits for its ACK on the calling thread, as a plain RTM_DELLINK does: slower,
// never failing for want of threads or fds. Concurrent callers of rcu_barrier share barriers, so
// 32 in flight keep nearly all of the gain.
constexpr int kMaxSenders = 32;
std::atomic<int> gSenders{0};

// What the sending thread leaves for the waiting one; shared so that either may finish first.
struct Shared {
  std::unique_ptr<nl::Socket> sock;  // the sender's until it is done
  nl::Request req;
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

// The delete sent and its ACK (or refusal) awaited on this thread.
UnregisterOutcome SendAndAck(nl::Socket& sock, nl::Request req) {
  std::vector<nl::Request> reqs;
  reqs.push_back(std::move(req));
  UnregisterOutcome out;
  out.reply = sock.Transact(reqs).at(0);
  return out;
}

// Takes a sender's place; false when kMaxSenders are in flight.
bool TakeSenderSlot() {
  int n = gSenders.load(std::memory_order_relaxed);
  while (n < kMaxSenders)
    if (gSenders.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
  return false;
}

}  // namespace

UnregisterOutcome DeleteAndWatch(std::unique_ptr<nl::Socket> sock, int monitorFd, nl::Request req,
                                 std::vector<int32_t> indexes, std::optional<uint32_t> group) {
  Fd mon{monitorFd};
  if (mon.fd < 0 || indexes.empty() || !TakeSenderSlot()) return SendAndAck(*sock, std::move(req));
  auto sh = std::make_shared<Shared>();
  sh->efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sh->efd < 0) {
    gSenders.fetch_sub(1, std::memory_order_acq_rel);
    return SendAndAck(*sock, std::move(req));
  }
  sh->sock = std::move(sock);
  sh->req = std::move(req);
  // The sender: a plain thread (it never changes namespace: the socket already lives in the
  // links' namespace), detached, so that its wait for the ACK is nobody's.
  try {
    std::thread([sh]() {
      nl::Reply reply;
      std::optional<SysError> error;
      try {
        std::vector<nl::Request> reqs;
        reqs.push_back(std::move(sh->req));
        reply = sh->sock->Transact(reqs).at(0);
      } catch (const SysError& e) {
        error = e;
      } catch (const std::exception& e) {
        error = SysError(EIO, "RTM_DELLINK", e.what());
      }
      sh->sock.reset();
      {
        std::lock_guard<std::mutex> lk(sh->mu);
        sh->reply = std::move(reply);
        sh->error = std::move(error);
        sh->done = true;
        uint64_t one = 1;
        (void)!::write(sh->efd, &one, sizeof(one));
      }
      gSenders.fetch_sub(1, std::memory_order_acq_rel);
    }).detach();
  } catch (const std::system_error&) {
    // No thread to be had (a pids limit, memory): the ACK on this thread. The socket and the
    // request are still ours (the thread never ran).
    gSenders.fetch_sub(1, std::memory_order_acq_rel);
    return SendAndAck(*sh->sock, std::move(sh->req));
  }

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
