#include "socket.h"

#include <linux/netlink.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include "attr.h"
#include "error.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif

namespace nk::nl {

namespace {
constexpr size_t kRecvBuf = 256 * 1024;
constexpr size_t kMaxSendBytes = 48 * 1024;  // one sendmsg: well under the socket's sndbuf
constexpr size_t kMaxSendMsgs = 512;
constexpr int kDumpRetries = 10;
constexpr int kSockBuf = 4 * 1024 * 1024;
}  // namespace

Socket::Socket(int protocol) : protocol_(protocol), buf_(new uint8_t[kRecvBuf]) {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd_ < 0) ThrowErrno("socket", "AF_NETLINK");
  int one = 1;
  // Best effort: older kernels lack some of these; the code copes without them.
  setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  if (protocol == NETLINK_ROUTE) setsockopt(fd_, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
  int sz = kSockBuf;
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  // A kernel that never answers must not hang a worker thread forever.
  timeval tv{30, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int e = errno;
    ::close(fd_);
    throw SysError(e, "bind", "AF_NETLINK");
  }
  socklen_t sl = sizeof(sa);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &sl) != 0) {
    int e = errno;
    ::close(fd_);
    throw SysError(e, "getsockname", "AF_NETLINK");
  }
  portId_ = sa.nl_pid;
  seq_ = static_cast<uint32_t>(::time(nullptr));
}

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// The sockets CloseLater() was given, and the one thread that closes them.
struct Closer {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Socket>> queue;
  bool started = false;
};

Closer& TheCloser() {
  static Closer* c = new Closer();  // never destroyed: the thread may outlive static destructors
  return *c;
}

}  // namespace

void CloseLater(std::unique_ptr<Socket> s) {
  if (!s) return;
  Closer& c = TheCloser();
  {
    std::lock_guard<std::mutex> lk(c.mu);
    c.queue.push_back(std::move(s));
    if (!c.started) {
      try {
        std::thread([&c] {
          // Its own name: it was started from a namespace thread ("nk-netns"), whose name it
          // would keep, and it never enters a namespace.
          pthread_setname_np(pthread_self(), "nk-closer");
          for (;;) {
            std::unique_ptr<Socket> next;
            {
              std::unique_lock<std::mutex> lk(c.mu);
              c.cv.wait(lk, [&c] { return !c.queue.empty(); });
              next = std::move(c.queue.front());
              c.queue.pop_front();
            }
            next.reset();  // close(2), off the caller's thread
          }
        }).detach();
        c.started = true;
      } catch (const std::system_error&) {
        s = std::move(c.queue.back());  // no thread (EAGAIN): closed here, below, as before
        c.queue.pop_back();
      }
    }
  }
  if (s) {
    s.reset();
    return;
  }
  c.cv.notify_one();
}

int ParseAck(const uint8_t* payload, size_t len, uint16_t flags, bool isDone, std::string* extack, int64_t* badAttr) {
  int error = 0;
  size_t tlvOff = 0;
  if (isDone) {
    if (len >= sizeof(int)) {
      std::memcpy(&error, payload, sizeof(int));
      tlvOff = sizeof(int);
    }
  } else {
    if (len < sizeof(nlmsgerr)) return EPROTO;
    nlmsgerr e;
    std::memcpy(&e, payload, sizeof(e));
    error = e.error;
    // The TLVs follow the echoed request (all of it unless NLM_F_CAPPED); never inside nlmsgerr,
    // whatever the echoed header's length says.
    size_t echoed = (flags & NLM_F_CAPPED) ? sizeof(nlmsghdr) : std::max<size_t>(e.msg.nlmsg_len, sizeof(nlmsghdr));
    tlvOff = Align(sizeof(nlmsgerr) - sizeof(nlmsghdr) + echoed);
  }
  if ((extack || badAttr) && (flags & NLM_F_ACK_TLVS) && tlvOff < len) {
    AttrIter it(payload + tlvOff, len - tlvOff);
    Attr a;
    while (it.Next(a)) {
      if (a.type == NLMSGERR_ATTR_MSG && extack) *extack = a.Str();
      if (a.type == NLMSGERR_ATTR_OFFS && badAttr) {
        if (auto v = a.U32()) *badAttr = *v;
      }
    }
  }
  // The kernel sends 0 or -errno (errno < 4096); anything else is a malformed reply (and
  // negating INT_MIN would be undefined).
  if (error < -4095 || error > 4095) return EPROTO;
  return error < 0 ? -error : error;
}

int FirstRefusal(const std::vector<Reply>& replies) {
  for (size_t i = 0; i < replies.size(); i++)
    if (replies[i].err) return static_cast<int>(i);
  return -1;
}

void Socket::SendBytes(const uint8_t* data, size_t len, const char* what) {
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd_, data, len, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    if (n >= 0) break;
    if (errno == EINTR) continue;
    ThrowErrno("sendto", what);
  }
  stats_.sends++;
}

size_t Socket::Receive(int flags, size_t cap) {
  for (;;) {
    sockaddr_nl from{};
    iovec iov{buf_.get(), cap ? std::min(cap, kRecvBuf) : kRecvBuf};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd_, &mh, flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) throw SysError(ETIMEDOUT, "recvmsg", "netlink reply");
      ThrowErrno("recvmsg", "netlink");
    }
    stats_.recvs++;
    if (from.nl_pid != 0) {  // not from the kernel: dropped (a peeked one taken off the queue first)
      stats_.staleDropped++;
      if (flags & MSG_PEEK) ::recv(fd_, buf_.get(), 0, MSG_DONTWAIT);
      continue;
    }
    if (mh.msg_flags & MSG_TRUNC) throw SysError(EMSGSIZE, "recvmsg", "netlink reply truncated");
    return static_cast<size_t>(n);
  }
}

void Socket::SendGroup(std::vector<Request>& reqs, size_t begin, size_t end, std::vector<Reply>& out) {
  std::unordered_map<uint32_t, size_t> pending;  // seq -> request index
  std::vector<iovec> iov;
  iov.reserve(end - begin);
  for (size_t i = begin; i < end; i++) {
    auto* h = reinterpret_cast<nlmsghdr*>(reqs[i].msg.data());
    h->nlmsg_seq = ++seq_;
    h->nlmsg_pid = 0;
    h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    pending[h->nlmsg_seq] = i;
    iov.push_back(iovec{reqs[i].msg.data(), reqs[i].msg.size()});
  }
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  msghdr mh{};
  mh.msg_name = &to;
  mh.msg_namelen = sizeof(to);
  mh.msg_iov = iov.data();
  mh.msg_iovlen = iov.size();
  for (;;) {
    ssize_t n = ::sendmsg(fd_, &mh, 0);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    ThrowErrno("sendmsg", "netlink");
  }
  stats_.sends++;

  std::vector<MsgView> msgs;
  while (!pending.empty()) {
    size_t n = Receive();
    msgs.clear();
    bool whole = SplitMessages(buf_.get(), n, msgs);
    for (const MsgView& m : msgs) {
      if (m.hdr->nlmsg_pid != portId_) {
        stats_.staleDropped++;
        continue;
      }
      auto it = pending.find(m.hdr->nlmsg_seq);
      if (it == pending.end()) {  // a late reply to an earlier, abandoned request
        stats_.staleDropped++;
        continue;
      }
      Reply& r = out[it->second];
      if (m.hdr->nlmsg_type == NLMSG_ERROR) {
        r.err = ParseAck(m.payload, m.payloadLen, m.hdr->nlmsg_flags, false, &r.extack);
        pending.erase(it);
      } else if (m.hdr->nlmsg_type == NLMSG_DONE || m.hdr->nlmsg_type == NLMSG_NOOP) {
        continue;
      } else if (m.hdr->nlmsg_type == NLMSG_OVERRUN) {
        throw SysError(ENOBUFS, reqs[it->second].op, "netlink overrun");
      } else {
        r.messages.emplace_back(reinterpret_cast<const uint8_t*>(m.hdr),
                                reinterpret_cast<const uint8_t*>(m.hdr) + m.hdr->nlmsg_len);
      }
    }
    if (!whole) throw SysError(EPROTO, "recvmsg", "malformed netlink reply");
  }
}

void Socket::RunDump(Request& req, Reply& out) {
  for (int attempt = 0; attempt <= kDumpRetries; attempt++) {
    out = Reply{};
    auto* h = reinterpret_cast<nlmsghdr*>(req.msg.data());
    h->nlmsg_seq = ++seq_;
    h->nlmsg_pid = 0;
    h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
    uint32_t seq = h->nlmsg_seq;
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    for (;;) {
      ssize_t n = ::sendto(fd_, req.msg.data(), req.msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
      if (n >= 0) break;
      if (errno == EINTR) continue;
      ThrowErrno("sendto", "netlink dump");
    }
    stats_.sends++;
    bool done = false, interrupted = false;
    std::vector<MsgView> msgs;
    while (!done) {
      size_t n = Receive();
      msgs.clear();
      bool whole = SplitMessages(buf_.get(), n, msgs);
      for (const MsgView& m : msgs) {
        if (m.hdr->nlmsg_pid != portId_ || m.hdr->nlmsg_seq != seq) {
          stats_.staleDropped++;
          continue;
        }
        if (m.hdr->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.hdr->nlmsg_type == NLMSG_DONE) {
          out.err = ParseAck(m.payload, m.payloadLen, m.hdr->nlmsg_flags, true, &out.extack);
          done = true;
        } else if (m.hdr->nlmsg_type == NLMSG_ERROR) {
          out.err = ParseAck(m.payload, m.payloadLen, m.hdr->nlmsg_flags, false, &out.extack);
          done = true;
        } else if (m.hdr->nlmsg_type == NLMSG_NOOP) {
          continue;
        } else if (m.hdr->nlmsg_type == NLMSG_OVERRUN) {
          throw SysError(ENOBUFS, req.op, "netlink overrun");
        } else {
          out.messages.emplace_back(reinterpret_cast<const uint8_t*>(m.hdr),
                                    reinterpret_cast<const uint8_t*>(m.hdr) + m.hdr->nlmsg_len);
        }
        if (done) break;
      }
      if (!whole) throw SysError(EPROTO, "recvmsg", "malformed netlink dump");
    }
    if (!interrupted || out.err != 0) return;
    stats_.dumpRetries++;
  }
  out = Reply{};
  out.err = EINTR;
  out.extack = "dump kept being interrupted by concurrent changes";
}

// DumpUntil's reads: the kernel sizes a dump's datagrams by the largest read (at least ~4 KiB).
constexpr size_t kQuestionRecv = 8192;

int Socket::DumpUntil(Request& req, const std::function<bool(const std::vector<std::vector<uint8_t>>&)>& enough,
                      bool* satisfied) {
  *satisfied = false;
  int small = 1;  // the kernel raises it to its minimum (SOCK_MIN_RCVBUF)
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  auto* h = reinterpret_cast<nlmsghdr*>(req.msg.data());
  h->nlmsg_seq = ++seq_;
  h->nlmsg_pid = 0;
  h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  uint32_t seq = h->nlmsg_seq;
  SendBytes(req.msg.data(), req.msg.size(), "netlink dump");
  std::vector<std::vector<uint8_t>> data;
  std::vector<MsgView> msgs;
  for (;;) {
    size_t n;
    try {
      n = Receive(MSG_PEEK, kQuestionRecv);
    } catch (const SysError& e) {
      if (e.err != EMSGSIZE) throw;
      n = Receive(MSG_PEEK);  // a datagram larger than asked for: peeked whole
    }
    msgs.clear();
    bool whole = SplitMessages(buf_.get(), n, msgs);
    int end = -1;  // the dump's error once it ended (0 for NLMSG_DONE)
    for (const MsgView& m : msgs) {
      if (m.hdr->nlmsg_pid != portId_ || m.hdr->nlmsg_seq != seq) {
        stats_.staleDropped++;
        continue;
      }
      if (m.hdr->nlmsg_type == NLMSG_DONE || m.hdr->nlmsg_type == NLMSG_ERROR) {
        end = ParseAck(m.payload, m.payloadLen, m.hdr->nlmsg_flags, m.hdr->nlmsg_type == NLMSG_DONE, nullptr);
        break;
      }
      if (m.hdr->nlmsg_type == NLMSG_NOOP) continue;
      if (m.hdr->nlmsg_type == NLMSG_OVERRUN) throw SysError(ENOBUFS, req.op, "netlink overrun");
      data.emplace_back(reinterpret_cast<const uint8_t*>(m.hdr),
                        reinterpret_cast<const uint8_t*>(m.hdr) + m.hdr->nlmsg_len);
    }
    if (!whole) throw SysError(EPROTO, "recvmsg", "malformed netlink dump");
    if (!data.empty() && enough(data)) {
      *satisfied = true;
      return 0;  // the datagram stays queued, and the rest of the dump unmade
    }
    Receive(0,
            n > kQuestionRecv ? 0 : kQuestionRecv);  // take the peeked datagram: the kernel may fill the next one now
    if (end >= 0) return end;
  }
}

std::vector<Reply> Socket::Batch(std::vector<std::vector<uint8_t>>& msgs, std::vector<uint8_t> fence) {
  std::vector<Reply> out(msgs.size());
  if (msgs.empty()) return out;
  if (fence.size() < sizeof(nlmsghdr)) throw SysError(EINVAL, "sendto", "netlink batch: no fence request");
  // One datagram: the kernel reads a batch from a single skb, and an iovec per message
  // would hit IOV_MAX (1024) on big batches.
  size_t total = 0;
  for (const auto& m : msgs) {
    if (m.size() < sizeof(nlmsghdr) || m.size() % NLMSG_ALIGNTO)
      throw SysError(EINVAL, "sendto", "netlink batch: malformed message");
    total += m.size();
  }
  std::vector<uint8_t> wire;
  wire.reserve(total);
  const uint32_t first = seq_ + 1;
  for (auto& m : msgs) {
    auto* h = reinterpret_cast<nlmsghdr*>(m.data());
    h->nlmsg_seq = ++seq_;
    h->nlmsg_pid = 0;
    h->nlmsg_flags |= NLM_F_REQUEST;
    wire.insert(wire.end(), m.begin(), m.end());
  }
  auto* fh = reinterpret_cast<nlmsghdr*>(fence.data());
  fh->nlmsg_seq = ++seq_;
  fh->nlmsg_pid = 0;
  fh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  const uint32_t fenceSeq = fh->nlmsg_seq;
  SendBytes(wire.data(), wire.size(), "netlink batch");
  SendBytes(fence.data(), fence.size(), "netlink batch fence");

  bool fenced = false;
  std::vector<MsgView> views;
  while (!fenced) {
    size_t n = Receive();
    views.clear();
    bool whole = SplitMessages(buf_.get(), n, views);
    for (const MsgView& m : views) {
      if (m.hdr->nlmsg_pid != portId_) {
        stats_.staleDropped++;
        continue;
      }
      if (m.hdr->nlmsg_seq == fenceSeq) {
        if (m.hdr->nlmsg_type == NLMSG_ERROR) fenced = true;  // its answer (NEWGEN) is not needed
        continue;
      }
      uint32_t idx = m.hdr->nlmsg_seq - first;  // wraps safely
      if (idx >= msgs.size()) {                 // a late reply to an earlier, abandoned request
        stats_.staleDropped++;
        continue;
      }
      Reply& r = out[idx];
      if (m.hdr->nlmsg_type == NLMSG_ERROR) {
        r.err = ParseAck(m.payload, m.payloadLen, m.hdr->nlmsg_flags, false, &r.extack, &r.badAttr);
        r.answered = true;
      } else if (m.hdr->nlmsg_type == NLMSG_DONE || m.hdr->nlmsg_type == NLMSG_NOOP) {
        continue;
      } else if (m.hdr->nlmsg_type == NLMSG_OVERRUN) {
        throw SysError(ENOBUFS, "recvmsg", "netlink overrun during a batch");
      } else {
        r.messages.emplace_back(reinterpret_cast<const uint8_t*>(m.hdr),
                                reinterpret_cast<const uint8_t*>(m.hdr) + m.hdr->nlmsg_len);
      }
    }
    if (!whole) throw SysError(EPROTO, "recvmsg", "malformed netlink reply");
  }
  if (FirstRefusal(out) < 0) {
    for (size_t i = 0; i < msgs.size(); i++) {
      auto* h = reinterpret_cast<const nlmsghdr*>(msgs[i].data());
      if ((h->nlmsg_flags & NLM_F_ACK) && !out[i].answered)
        throw SysError(EPROTO, "recvmsg", "netlink batch: message " + std::to_string(i) + " was never acknowledged");
    }
  }
  return out;
}

std::vector<Reply> Socket::Transact(std::vector<Request>& reqs) {
  std::vector<Reply> out(reqs.size());
  size_t i = 0;
  while (i < reqs.size()) {
    if (reqs[i].dump) {
      RunDump(reqs[i], out[i]);
      i++;
      continue;
    }
    size_t j = i, bytes = 0;
    while (j < reqs.size() && !reqs[j].dump && j - i < kMaxSendMsgs &&
           (j == i || bytes + reqs[j].msg.size() <= kMaxSendBytes)) {
      bytes += reqs[j].msg.size();
      j++;
    }
    SendGroup(reqs, i, j, out);
    i = j;
  }
  return out;
}

}  // namespace nk::nl
