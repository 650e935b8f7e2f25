// SPDX-License-Identifier: GPL-2.0-only
// bsr_netlink: a generic netlink socket for Node. Deliberately thin: it moves raw datagrams
// between the kernel and JavaScript; every message is encoded and decoded in TypeScript
// (src/netlink/), where it can be unit-tested without a kernel.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

namespace {

// Throws a JS Error carrying `code` (e.g. "ENOENT") and `errno`, like Node's own system errors.
[[noreturn]] void ThrowErrno(Napi::Env env, const char *what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  const char *name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("syscall", Napi::String::New(env, what));
  throw e;
}

Napi::Value ErrnoValue(Napi::Env env, const char *what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  const char *name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  return e.Value();
}

class Socket : public Napi::ObjectWrap<Socket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Socket",
                       {
                           InstanceAccessor<&Socket::PortId>("portId"),
                           InstanceAccessor<&Socket::Fd>("fd"),
                           InstanceMethod<&Socket::Send>("send"),
                           InstanceMethod<&Socket::Recv>("recv"),
                           InstanceMethod<&Socket::AddMembership>("addMembership"),
                           InstanceMethod<&Socket::StartReading>("startReading"),
                           InstanceMethod<&Socket::StopReading>("stopReading"),
                           InstanceMethod<&Socket::Close>("close"),
                       });
  }

  explicit Socket(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Socket>(info) {
    Napi::Env env = info.Env();
    int protocol = NETLINK_GENERIC;
    if (info.Length() > 0 && info[0].IsNumber()) protocol = info[0].As<Napi::Number>().Int32Value();
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd_ < 0) ThrowErrno(env, "socket", errno);
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      ThrowErrno(env, "bind", err);
    }
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr *>(&addr), &len);
    port_id_ = addr.nl_pid;
    // Ask for readable error messages (extack) and for errors without the echoed request;
    // old kernels lack these options, which only costs the extra detail.
    int one = 1;
    setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    // Event bursts (e.g. many devices changing at once) must not overflow the queue.
    int rcvbuf = 1 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }

  ~Socket() override { Shutdown(); }

 private:
  Napi::Value PortId(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), port_id_); }
  Napi::Value Fd(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), fd_); }

  void CheckOpen(Napi::Env env) {
    if (fd_ < 0) throw Napi::Error::New(env, "netlink socket is closed");
  }

  // send(buffer): one datagram to the kernel.
  Napi::Value Send(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "send(buffer)");
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    ssize_t n;
    do {
      n = sendto(fd_, buf.Data(), buf.Length(), 0, reinterpret_cast<sockaddr *>(&to), sizeof to);
    } while (n < 0 && errno == EINTR);
    if (n < 0) ThrowErrno(env, "sendto", errno);
    return env.Undefined();
  }

  // Reads one whole datagram without blocking; returns its size, 0 when none is queued,
  // or -errno. The size is learnt first (MSG_PEEK|MSG_TRUNC) so nothing is ever cut off.
  ssize_t ReadDatagram(std::string &out) {
    for (;;) {
      ssize_t size = recv(fd_, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
      if (size < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -errno;
      }
      out.resize(size > 0 ? size : 1);
      ssize_t n = recv(fd_, out.data(), out.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -errno;
      }
      out.resize(n);
      return n;
    }
  }

  // recv(timeoutMs): the next datagram as a Buffer, or null after timeoutMs (-1 = wait forever).
  // Synchronous on purpose: a CLI request waits for its answer and has nothing else to do.
  Napi::Value Recv(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int timeout = -1;
    if (info.Length() > 0 && info[0].IsNumber()) timeout = info[0].As<Napi::Number>().Int32Value();
    pollfd pfd{fd_, POLLIN, 0};
    for (;;) {
      int r = poll(&pfd, 1, timeout);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) ThrowErrno(env, "poll", errno);
      if (r == 0) return env.Null();
      std::string data;
      ssize_t n = ReadDatagram(data);
      if (n < 0) ThrowErrno(env, "recv", static_cast<int>(-n));
      if (n == 0) continue;
      return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t *>(data.data()), data.size());
    }
  }

  Napi::Value AddMembership(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "addMembership(group)");
    int group = info[0].As<Napi::Number>().Int32Value();
    if (setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
      ThrowErrno(env, "setsockopt(NETLINK_ADD_MEMBERSHIP)", errno);
    return env.Undefined();
  }

  // startReading(callback): callback(err, buffer) for every datagram, driven by libuv so the
  // event loop never blocks. The socket object stays alive while reading.
  Napi::Value StartReading(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "startReading(callback)");
    if (poll_) throw Napi::Error::New(env, "already reading");
    uv_loop_t *loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "bsr_netlink");
    poll_ = new uv_poll_t;
    poll_->data = this;
    int r = uv_poll_init(loop, poll_, fd_);
    if (r == 0) r = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (r != 0) {
      delete poll_;
      poll_ = nullptr;
      callback_.Reset();
      throw Napi::Error::New(env, std::string("uv_poll: ") + uv_strerror(r));
    }
    Ref();
    return env.Undefined();
  }

  static void OnReadable(uv_poll_t *handle, int status, int /*events*/) {
    auto *self = static_cast<Socket *>(handle->data);
    if (!self || self->callback_.IsEmpty()) return;
    Napi::Env env = self->callback_.Env();
    Napi::HandleScope scope(env);
    auto deliver = [self, env](Napi::Value err, Napi::Value data) {
      try {
        self->callback_.MakeCallback(env.Global(), {err, data}, *self->context_);
      } catch (const Napi::Error &e) {
        // An exception in the JS callback becomes an uncaught exception, as for any event.
        napi_fatal_exception(env, e.Value());
      }
    };
    if (status < 0) {
      deliver(ErrnoValue(env, "poll", -status), env.Undefined());
      return;
    }
    // Drain what is queued; stop early if the callback stopped reading.
    while (self->poll_ && self->fd_ >= 0) {
      std::string data;
      ssize_t n = self->ReadDatagram(data);
      if (n == 0) break;
      if (n < 0) {
        deliver(ErrnoValue(env, "recv", static_cast<int>(-n)), env.Undefined());
        if (-n != ENOBUFS) break;  // ENOBUFS: events were lost but the socket still works
        continue;
      }
      deliver(env.Null(), Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t *>(data.data()), data.size()));
    }
  }

  void StopPoll() {
    if (!poll_) return;
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
    poll_ = nullptr;
  }

  Napi::Value StopReading(const Napi::CallbackInfo &info) {
    if (poll_) {
      StopPoll();
      callback_.Reset();
      context_.reset();
      Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    StopReading(info);
    Shutdown();
    return info.Env().Undefined();
  }

  void Shutdown() {
    StopPoll();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  uint32_t port_id_ = 0;
  uv_poll_t *poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Socket", Socket::Init(env));
  exports.Set("NETLINK_GENERIC", Napi::Number::New(env, NETLINK_GENERIC));
  return exports;
}

}  // namespace

NODE_API_MODULE(bsr_netlink, Init)
