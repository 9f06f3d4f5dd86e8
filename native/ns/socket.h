// Sockets opened inside a network namespace, for embedded services (a DNS resolver on
// 127.0.0.11 inside a container) run by this process without a child process.
// Plain C++ (no N-API). A socket stays in the namespace it was created in, so once opened
// it is used from the Node main thread like any other socket.
#pragma once

#include <cstdint>
#include <string>

namespace nk::ns {

struct SocketSpec {
  int family = 0;          // AF_INET or AF_INET6
  int type = 0;            // SOCK_DGRAM or SOCK_STREAM
  std::string address;     // the local address to bind ("127.0.0.11", "::"); empty: do not bind
  uint16_t port = 0;       // 0: the kernel picks one
  bool reuseAddr = false;  // SO_REUSEADDR (TCP listeners: rebind while old connections linger)
  bool freebind = false;   // IP_FREEBIND: bind an address that is not (yet) on any link
};

struct OpenedSocket {
  int fd = -1;
  uint16_t port = 0;  // the bound port (getsockname), 0 if unbound
};

// Creates the socket inside the namespace `nsFd` (setns on the calling ThreadPool worker,
// then back home), non-blocking and close-on-exec, IPV6_V6ONLY for AF_INET6, and binds it.
// Throws SysError; nothing is left open on failure.
OpenedSocket OpenSocketIn(int nsFd, const SocketSpec& spec);

}  // namespace nk::ns
