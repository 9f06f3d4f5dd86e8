// openSocket(ns, spec): a socket created inside a namespace on the addon's threads, handed to
// JS as a plain fd that Node's net (server.listen({ fd }), new net.Socket({ fd })) or dgram
// (socket.bind({ fd })) adopts.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "../ns/socket.h"
#include "convert.h"
#include "modules.h"

namespace nk::napi {

namespace {

// Owns the fd until JS takes it, so a promise settled while the environment goes away
// does not leak it.
struct PendingFd {
  int fd = -1;
  ~PendingFd() {
    if (fd >= 0) ::close(fd);
  }
};

Napi::Value OpenSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "spec must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  ns::SocketSpec spec;
  uint32_t family = OptU32(o, "family").value_or(0);
  if (family != 4 && family != 6) throw Napi::TypeError::New(env, "family must be 4 or 6");
  spec.family = family == 6 ? AF_INET6 : AF_INET;
  std::string type = OptString(o, "type").value_or("");
  if (type != "udp" && type != "tcp") throw Napi::TypeError::New(env, "type must be 'udp' or 'tcp'");
  spec.type = type == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  spec.address = OptString(o, "address").value_or("");
  uint32_t port = OptU32(o, "port").value_or(0);
  if (port > 65535) throw Napi::TypeError::New(env, "port must be 0 to 65535");
  spec.port = static_cast<uint16_t>(port);
  spec.reuseAddr = OptBool(o, "reuseAddr").value_or(false);
  spec.freebind = OptBool(o, "freebind").value_or(false);
  return RunWithNamespace(env, info[0], [spec](int nsFd) -> ToJs {
    auto s = ns::OpenSocketIn(nsFd, spec);
    auto pending = std::make_shared<PendingFd>();
    pending->fd = s.fd;
    uint16_t port = s.port;
    return [pending, port](Napi::Env env) -> Napi::Value {
      Napi::Object r = Napi::Object::New(env);
      r.Set("fd", pending->fd);
      r.Set("port", port);
      pending->fd = -1;  // JS owns it now
      return r;
    };
  });
}

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("openSocket", Napi::Function::New(env, OpenSocket));
}

}  // namespace nk::napi
