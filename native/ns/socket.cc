#include "socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../nl/error.h"
#include "thread.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78  // linux/in6.h; glibc 2.36's netinet/in.h lacks it
#endif

namespace nk::ns {

namespace {

// Closes the fd unless released: every error path below leaves nothing open.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  int Release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

void SetOpt(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0) ThrowErrno("setsockopt", what);
}

}  // namespace

OpenedSocket OpenSocketIn(int nsFd, const SocketSpec& spec) {
  if (spec.family != AF_INET && spec.family != AF_INET6) throw SysError(EAFNOSUPPORT, "socket");
  if (spec.type != SOCK_DGRAM && spec.type != SOCK_STREAM) throw SysError(EPROTOTYPE, "socket");

  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!spec.address.empty()) {
    if (spec.family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(spec.port);
      if (::inet_pton(AF_INET, spec.address.c_str(), &sin->sin_addr) != 1) throw SysError(EINVAL, "bind", spec.address);
      len = sizeof(*sin);
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(spec.port);
      if (::inet_pton(AF_INET6, spec.address.c_str(), &sin6->sin6_addr) != 1)
        throw SysError(EINVAL, "bind", spec.address);
      len = sizeof(*sin6);
    }
  }

  FdGuard sock{-1};
  {
    // Only socket() needs the namespace: the socket belongs to it for its whole life.
    InNetns in(nsFd);
    sock.fd = ::socket(spec.family, spec.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock.fd < 0) ThrowErrno("socket");
  }
  if (spec.family == AF_INET6) SetOpt(sock.fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
  if (spec.reuseAddr) SetOpt(sock.fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  if (spec.freebind) {
    if (spec.family == AF_INET)
      SetOpt(sock.fd, IPPROTO_IP, IP_FREEBIND, 1, "IP_FREEBIND");
    else
      SetOpt(sock.fd, IPPROTO_IPV6, IPV6_FREEBIND, 1, "IPV6_FREEBIND");
  }

  OpenedSocket out;
  if (len) {
    if (::bind(sock.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ThrowErrno("bind",
                 (spec.family == AF_INET6 ? "[" + spec.address + "]" : spec.address) + ":" + std::to_string(spec.port));
    }
    sockaddr_storage bound{};
    socklen_t blen = sizeof(bound);
    if (::getsockname(sock.fd, reinterpret_cast<sockaddr*>(&bound), &blen) != 0) ThrowErrno("getsockname");
    out.port = ntohs(spec.family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  }
  out.fd = sock.Release();
  return out;
}

}  // namespace nk::ns
