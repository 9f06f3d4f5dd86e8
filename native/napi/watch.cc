// N-API glue only: rtnetlink notifications (native/rtnl/monitor) delivered to JS.
//
//   watchOpen(ns, { groups: string[], receiveBuffer?: number, drop?: number[] }) -> Promise<watcher>
//     drop: RTM_* notification types the kernel drops before queueing them (a socket filter).
//     The subscription socket is opened inside the namespace on a namespace thread (like the
//     rtnetlink socket); the promise resolves once it is a member of the groups, so nothing that
//     happens after that is missed.
//   watcher.start(onBatch, persistent = true)
//                            onBatch(events[]) is called on the main thread with what each wakeup
//                            read: { type: 'new'|'del', group, link|addr|route|neigh },
//                            { type: 'overrun' } (reading stops until resume()), or
//                            { type: 'error', errno, syscall, strerror } (reading stops);
//                            persistent false: the watch does not keep the event loop alive
//   watcher.pause() / watcher.resume()   stop / restart reading (the kernel queues meanwhile)
//   watcher.close()          closes the socket at once; idempotent
//   watcher.stats()          what the reader saw (datagrams, events, overruns, ...)
//
// Why a uv_poll on the non-blocking socket rather than a reader thread: the socket is
// non-blocking, so a wakeup costs one epoll event and a few recvmsg calls that never wait, done
// on the loop that consumes the events anyway; no thread per watch (the companion holds several,
// tests open hundreds), no handoff through a thread-safe function, and pausing is just taking the
// fd out of the epoll set so the kernel's receive buffer does the queueing (a consumer that falls
// behind gets an overrun and a resync, never unbounded memory). Each wakeup reads at most
// kDatagramsPerWakeup datagrams, so a flood of notifications cannot hold the event loop.
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../nl/error.h"
#include "../ns/thread.h"
#include "../rtnl/monitor.h"
#include "convert.h"
#include "modules.h"

namespace nk::napi {

namespace {

constexpr size_t kDatagramsPerWakeup = 32;  // about 1 ms of decoding and conversion
constexpr int kDefaultReceiveBuffer = 8 * 1024 * 1024;

struct Watch : std::enable_shared_from_this<Watch> {
  napi_env env = nullptr;
  int fd = -1;
  uv_poll_t poll{};
  bool handleInit = false;  // uv_poll_init done: the handle must be uv_close'd
  bool polling = false;
  bool closed = false;
  bool hookAdded = false;
  std::unique_ptr<rtnl::MonitorReader> reader;
  Napi::FunctionReference onBatch;
  std::unique_ptr<Napi::AsyncContext> context;
  std::shared_ptr<Watch> self;  // alive while the uv handle is: released in the close callback

  ~Watch() {
    if (hookAdded) napi_remove_env_cleanup_hook(env, &Watch::CleanupHook, this);
    if (fd >= 0) ::close(fd);
  }

  // The environment is going away (worker exit, process exit) with the watch still open.
  static void CleanupHook(void* arg) {
    auto* w = static_cast<Watch*>(arg);
    w->hookAdded = false;
    w->Close();
  }

  void StopPolling() {
    if (polling) uv_poll_stop(&poll);
    polling = false;
  }

  void Close() {
    if (closed) return;
    closed = true;
    StopPolling();
    onBatch.Reset();
    context.reset();
    if (hookAdded) {
      napi_remove_env_cleanup_hook(env, &Watch::CleanupHook, this);
      hookAdded = false;
    }
    if (handleInit) {
      // uv_close stops the handle and forgets the fd right away; the fd is closed after it and
      // the memory once the loop has run the close callback.
      uv_close(reinterpret_cast<uv_handle_t*>(&poll), [](uv_handle_t* h) {
        auto* w = static_cast<Watch*>(h->data);
        w->self.reset();  // may delete w
      });
    }
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
    if (!handleInit) self.reset();
  }

  Napi::Value ErrorEvent(Napi::Env e, int err, const char* syscall) {
    Napi::Object o = Napi::Object::New(e);
    o.Set("type", "error");
    o.Set("errno", -err);
    o.Set("syscall", syscall);
    o.Set("strerror", std::strerror(err));
    return o;
  }

  static void OnPoll(uv_poll_t* h, int status, int /*events*/) {
    auto* w = static_cast<Watch*>(h->data);
    if (w->closed || !w->polling) return;
    auto keep = w->shared_from_this();  // the JS callback may close the watch
    Napi::Env env(w->env);
    Napi::HandleScope scope(env);
    std::vector<Napi::Value> out;
    // libuv reports EPOLLERR as UV_EBADF and stops the handle. On a netlink socket EPOLLERR is
    // the pending socket error, which the next recvmsg returns (ENOBUFS: an overrun) and clears:
    // read, and poll again unless the batch stops reading.
    bool stoppedByLibuv = status < 0;
    rtnl::MonitorReader::Batch b = w->reader->Read(kDatagramsPerWakeup);
    out.reserve(b.events.size() + 1);
    for (const auto& ev : b.events) out.push_back(EventToJs(env, ev));
    if (b.overrun) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "overrun");
      out.push_back(o);
      w->StopPolling();  // until the caller has taken its fresh dump (resume())
    } else if (b.err) {
      out.push_back(w->ErrorEvent(env, b.err, "recvmsg"));
      w->StopPolling();
    } else if (stoppedByLibuv) {
      int r = uv_poll_start(&w->poll, UV_READABLE, &Watch::OnPoll);
      if (r != 0) {
        out.push_back(w->ErrorEvent(env, -r, "uv_poll_start"));
        w->polling = false;
      }
    }
    if (out.empty() || w->onBatch.IsEmpty()) return;
    Napi::Array arr = Napi::Array::New(env, out.size());
    for (size_t i = 0; i < out.size(); i++) arr.Set(static_cast<uint32_t>(i), out[i]);
    try {
      w->onBatch.MakeCallback(env.Global(), {arr}, *w->context);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());  // 'uncaughtException', as for any callback
    }
  }

  static Napi::Value EventToJs(Napi::Env env, const rtnl::Event& ev) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", ev.del ? "del" : "new");
    o.Set("group", rtnl::EventGroupName(ev.group));
    switch (ev.group) {
      case rtnl::EventGroup::Link:
        o.Set("link", FromLink(env, ev.link));
        break;
      case rtnl::EventGroup::Address:
        o.Set("addr", FromAddr(env, ev.addr));
        break;
      case rtnl::EventGroup::Route:
        o.Set("route", FromRoute(env, ev.route));
        break;
      case rtnl::EventGroup::Neighbour:
        o.Set("neigh", FromNeigh(env, ev.neigh));
        break;
    }
    return o;
  }
};

// Owns the fd until the watcher object takes it (the environment may go away first).
struct PendingFd {
  int fd = -1;
  ~PendingFd() {
    if (fd >= 0) ::close(fd);
  }
};

Napi::Object MakeWatcher(Napi::Env env, std::shared_ptr<Watch> w) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("start", Napi::Function::New(
                     env,
                     [w](const Napi::CallbackInfo& info) -> Napi::Value {
                       Napi::Env env = info.Env();
                       if (w->closed) throw Napi::Error::New(env, "the watch is closed");
                       if (w->handleInit) throw Napi::Error::New(env, "the watch is already started");
                       if (info.Length() < 1 || !info[0].IsFunction())
                         throw Napi::TypeError::New(env, "onBatch must be a function");
                       uv_loop_t* loop = nullptr;
                       if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop)
                         throw Napi::Error::New(env, "no event loop");
                       int r = uv_poll_init(loop, &w->poll, w->fd);
                       if (r != 0) throw ToJsError(env, SysError(-r, "uv_poll_init"));
                       w->handleInit = true;
                       w->poll.data = w.get();
                       w->self = w;
                       w->onBatch = Napi::Persistent(info[0].As<Napi::Function>());
                       w->context = std::make_unique<Napi::AsyncContext>(env, "netns-kit:watch");
                       // Like fs.watch: a watch keeps the process alive unless it is not `persistent`.
                       if (info.Length() > 1 && info[1].IsBoolean() && !info[1].As<Napi::Boolean>().Value())
                         uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
                       r = uv_poll_start(&w->poll, UV_READABLE, &Watch::OnPoll);
                       if (r != 0) {
                         w->Close();
                         throw ToJsError(env, SysError(-r, "uv_poll_start"));
                       }
                       w->polling = true;
                       return env.Undefined();
                     },
                     "start"));
  o.Set("pause", Napi::Function::New(
                     env,
                     [w](const Napi::CallbackInfo& info) -> Napi::Value {
                       if (!w->closed) w->StopPolling();
                       return info.Env().Undefined();
                     },
                     "pause"));
  o.Set("resume", Napi::Function::New(
                      env,
                      [w](const Napi::CallbackInfo& info) -> Napi::Value {
                        Napi::Env env = info.Env();
                        if (w->closed || !w->handleInit || w->polling) return env.Undefined();
                        int r = uv_poll_start(&w->poll, UV_READABLE, &Watch::OnPoll);
                        if (r != 0) throw ToJsError(env, SysError(-r, "uv_poll_start"));
                        w->polling = true;
                        return env.Undefined();
                      },
                      "resume"));
  o.Set("close", Napi::Function::New(
                     env,
                     [w](const Napi::CallbackInfo& info) -> Napi::Value {
                       w->Close();
                       return info.Env().Undefined();
                     },
                     "close"));
  o.Set("stats", Napi::Function::New(
                     env,
                     [w](const Napi::CallbackInfo& info) -> Napi::Value {
                       Napi::Env env = info.Env();
                       const auto& s = w->reader->stats();
                       Napi::Object r = Napi::Object::New(env);
                       r.Set("datagrams", static_cast<double>(s.datagrams));
                       r.Set("messages", static_cast<double>(s.messages));
                       r.Set("events", static_cast<double>(s.events));
                       r.Set("ignored", static_cast<double>(s.ignored));
                       r.Set("malformed", static_cast<double>(s.malformed));
                       r.Set("overruns", static_cast<double>(s.overruns));
                       r.Set("discarded", static_cast<double>(s.discarded));
                       r.Set("foreign", static_cast<double>(s.foreign));
                       int rcv = 0;
                       socklen_t len = sizeof(rcv);
                       if (!w->closed && ::getsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &rcv, &len) == 0)
                         r.Set("receiveBuffer", rcv);
                       r.Set("closed", w->closed);
                       return r;
                     },
                     "stats"));
  return o;
}

Napi::Value WatchOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "spec must be an object");
  Napi::Object spec = info[1].As<Napi::Object>();
  Napi::Value gv = spec.Get("groups");
  if (!gv.IsArray()) throw Napi::TypeError::New(env, "groups must be an array");
  Napi::Array ga = gv.As<Napi::Array>();
  std::vector<uint32_t> groups;
  for (uint32_t i = 0; i < ga.Length(); i++) {
    Napi::Value g = ga.Get(i);
    rtnl::EventGroup eg;
    if (!g.IsString() || !rtnl::ParseEventGroup(g.As<Napi::String>().Utf8Value(), &eg))
      throw Napi::TypeError::New(env, "groups: each must be 'link', 'address', 'route' or 'neighbour'");
    for (uint32_t id : rtnl::MulticastGroups(eg)) groups.push_back(id);
  }
  if (groups.empty()) throw Napi::TypeError::New(env, "groups must name at least one group");
  int rcvbuf = kDefaultReceiveBuffer;
  if (auto r = OptU32(spec, "receiveBuffer")) {
    if (*r < 1 || *r > (1u << 30)) throw Napi::RangeError::New(env, "receiveBuffer must be 1 to 2^30 bytes");
    rcvbuf = static_cast<int>(*r);
  }
  // Notification types the kernel drops before queueing them (RTM_NEWLINK, ...): a socket filter.
  std::vector<uint16_t> drop;
  Napi::Value dv = spec.Get("drop");
  if (!dv.IsUndefined()) {
    if (!dv.IsArray()) throw Napi::TypeError::New(env, "drop must be an array");
    Napi::Array da = dv.As<Napi::Array>();
    if (da.Length() > 64) throw Napi::RangeError::New(env, "drop takes at most 64 types");
    for (uint32_t i = 0; i < da.Length(); i++) {
      Napi::Value t = da.Get(i);
      if (!t.IsNumber()) throw Napi::TypeError::New(env, "drop must hold message types");
      double d = t.As<Napi::Number>().DoubleValue();
      if (!(d >= RTM_BASE && d <= RTM_MAX) || d != static_cast<double>(static_cast<uint16_t>(d)))
        throw Napi::RangeError::New(env, "drop: each must be an RTM_* message type");
      drop.push_back(static_cast<uint16_t>(d));
    }
  }
  return RunWithNamespace(env, info[0], [groups, rcvbuf, drop](int nsFd) -> ToJs {
    auto pending = std::make_shared<PendingFd>();
    {
      // The socket belongs to the namespace it is created in, for its whole life.
      ns::InNetns in(nsFd);
      pending->fd = rtnl::OpenMonitor(groups, rcvbuf, drop);
    }
    return [pending](Napi::Env env) -> Napi::Value {
      auto w = std::make_shared<Watch>();
      w->env = env;
      w->fd = pending->fd;
      pending->fd = -1;
      w->reader = std::make_unique<rtnl::MonitorReader>(rtnl::MonitorReader::FromFd(w->fd));
      if (napi_add_env_cleanup_hook(env, &Watch::CleanupHook, w.get()) == napi_ok) w->hookAdded = true;
      // Until started, the watch lives as long as its JS functions (their finalizers drop it).
      return MakeWatcher(env, w);
    };
  });
}

}  // namespace

void InitWatch(Napi::Env env, Napi::Object exports) { exports.Set("watchOpen", Napi::Function::New(env, WatchOpen)); }

}  // namespace nk::napi
