// A netlink socket with pipelined request/acknowledge transactions and safe dumps.
// Plain C++: no N-API. A socket stays in the network namespace it was opened in, so
// it can be used from any thread once open (see native/ns/).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nk::nl {

struct Request {
  std::vector<uint8_t> msg;  // a finished message (MsgBuilder::Finish); seq and pid are set here
  bool dump = false;         // NLM_F_DUMP: answered by many messages and NLMSG_DONE
  bool wantReply = false;    // a GET that is answered by one message before its ACK
  std::string op;            // the operation's name for errors ("RTM_NEWLINK")
};

struct Reply {
  int err = 0;                                 // positive errno, 0 on success
  std::string extack;                          // kernel extended-ACK message, if any
  int64_t badAttr = -1;                        // NLMSGERR_ATTR_OFFS: offset of the offending attribute
                                               // in the request (from its nlmsghdr), -1 if not sent
  bool answered = false;                       // an ACK or error arrived for this request
  std::vector<std::vector<uint8_t>> messages;  // data messages (GET and dump replies), whole nlmsghdr each
};

struct SocketStats {
  uint64_t sends = 0, recvs = 0, dumpRetries = 0, staleDropped = 0;
};

class Socket {
 public:
  // Opens an AF_NETLINK socket of `protocol` in the calling thread's network namespace,
  // with NETLINK_EXT_ACK, NETLINK_CAP_ACK and NETLINK_GET_STRICT_CHK (when available).
  explicit Socket(int protocol);
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Sends the requests, pipelining consecutive non-dump requests in one sendmsg, and
  // collects one Reply per request in order. Dumps run one at a time and are retried
  // when the kernel marks them NLM_F_DUMP_INTR; a dump that stays interrupted fails
  // with EINTR rather than returning partial data. Every reply's sender (the kernel,
  // port 0), port id and sequence number are checked; stale replies are dropped.
  // Throws SysError for socket failures; kernel refusals land in Reply::err.
  std::vector<Reply> Transact(std::vector<Request>& reqs);

  // Sends one pre-framed nfnetlink batch (BATCH_BEGIN, requests, BATCH_END) in a single
  // sendmsg with consecutive sequence numbers, and collects one Reply per message: its ACK
  // or error, and the messages the kernel sent back for it (NLM_F_ECHO). The kernel applies
  // a batch atomically: it checks every message, reports every refusal (and an ACK for each
  // accepted message that asked for one), then commits all or aborts all. A batch-level
  // failure (a malformed batch, a failed commit) comes as an error on BATCH_BEGIN.
  // `fence` is a request answered with an ACK (nf_tables: NFT_MSG_GETGEN) sent right after
  // in a second sendmsg: the kernel answers netlink requests in order, so once the fence's
  // ACK is in, every answer to the batch is too, whatever the batch asked for. Messages
  // of the batch should carry NLM_F_ACK so each refusal is attributed to its message.
  // Throws SysError for socket failures and for a batch that was neither refused nor
  // acknowledged (EPROTO); kernel refusals land in the replies (see FirstRefusal).
  std::vector<Reply> Batch(std::vector<std::vector<uint8_t>>& msgs, std::vector<uint8_t> fence);

  // Starts a dump and reads it only until `enough` (called with the data messages received so
  // far, after each datagram) says so, or to its end. Returns the dump's error (0 when it ended
  // or was cut short) and whether `enough` answered true. The kernel fills one datagram per
  // read, so a question such as "does this set hold an element?" costs one datagram, not the
  // whole set. Each datagram is peeked first (MSG_PEEK) and taken only if the dump goes on, and
  // the socket's receive buffer is made the smallest the kernel allows: the kernel fills the next
  // datagram of a dump inside recvmsg() while the queued data is under half the buffer, so a
  // datagram left queued stops it; and reads of at most 8 KiB keep the kernel's datagrams that
  // small (it sizes them by the largest read so far), so a question reads a few dozen elements.
  // A dump cut short leaves the rest of it on this socket: close
  // the socket after (open one for the question; CloseLater). NLM_F_DUMP_INTR is not retried:
  // the answer is as of a moment of the dump, as any answer is. For a socket of its own only:
  // it leaves the receive buffer at the kernel's minimum.
  int DumpUntil(Request& req, const std::function<bool(const std::vector<std::vector<uint8_t>>&)>& enough,
                bool* satisfied);

  uint32_t portId() const { return portId_; }
  int fd() const { return fd_; }
  const SocketStats& stats() const { return stats_; }

 private:
  void SendGroup(std::vector<Request>& reqs, size_t begin, size_t end, std::vector<Reply>& out);
  void RunDump(Request& req, Reply& out);
  // One datagram into buf_ (MSG_PEEK: left queued), at most `cap` bytes (0: the whole buffer), returns its length.
  size_t Receive(int flags = 0, size_t cap = 0);
  void SendBytes(const uint8_t* data, size_t len, const char* what);

  int fd_ = -1;
  int protocol_;
  uint32_t portId_ = 0;
  uint32_t seq_;
  // The receive buffer, left uninitialised: a zero-filled one faulted in and cleared all its
  // pages when the socket opened (64 pages per socket, per namespace); only those a datagram
  // fills are touched now.
  std::unique_ptr<uint8_t[]> buf_;
  SocketStats stats_;
};

// Closes the socket on a thread of its own, later. Closing a NETLINK_NETFILTER socket makes
// nf_tables wait for the destruction of what the last commits removed (its NETLINK_URELEASE
// notifier flushes that work, which waits out an RCU grace period: 8-15 ms on 6.18), and the
// caller need not wait for it. The thread ("nk-closer") does nothing else (no setns). Without a
// thread (it could not be started) the socket is closed at once, here.
void CloseLater(std::unique_ptr<Socket> s);

// Parses the error/ack payload of an NLMSG_ERROR or NLMSG_DONE message: positive errno
// (0 for an ACK) and the extended-ACK text. Exposed for tests.
// `badAttr`, when given, receives NLMSGERR_ATTR_OFFS (or stays unchanged when absent).
int ParseAck(const uint8_t* payload, size_t len, uint16_t flags, bool isDone, std::string* extack,
             int64_t* badAttr = nullptr);

// Index of the first reply that carries an error, or -1.
int FirstRefusal(const std::vector<Reply>& replies);

}  // namespace nk::nl
