#include "tools/packetdrill/stack_under_test.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringlab::packetdrill {

namespace {

constexpr unsigned somaxconn = 4096;   // Linux's net.core.somaxconn default: listen() clamps to it

int errno_of(std::error_code ec) noexcept { return ec ? ec.value() : 0; }   // std::errc values are errno values

bool is(std::error_code ec, std::errc e) noexcept { return ec == std::make_error_code(e); }

// sockaddr -> endpoint, with the errno Linux gives for a bad one.
sys_result to_endpoint(const sockaddr* addr, unsigned len, stack::endpoint& out) noexcept {
  if (addr == nullptr) return sys_result::fail(EFAULT);
  if (len < sizeof(sockaddr_in)) return sys_result::fail(EINVAL);
  if (addr->sa_family != AF_INET) return sys_result::fail(EAFNOSUPPORT);
  sockaddr_in in{};
  std::memcpy(&in, addr, sizeof in);
  out = {wire::ipv4_addr{ntohl(in.sin_addr.s_addr)}, ntohs(in.sin_port)};
  return {};
}

// endpoint -> sockaddr: as Linux's move_addr_to_user, the address cut to *len and *len set to its size.
void fill_sockaddr(stack::endpoint ep, sockaddr* addr, unsigned* len) noexcept {
  if (addr == nullptr || len == nullptr) return;
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(ep.port);
  in.sin_addr.s_addr = htonl(ep.addr.value);
  std::memcpy(addr, &in, std::min<std::size_t>(*len, sizeof in));
  *len = sizeof in;
}

// getsockopt's copy-out: Linux cuts the value to the caller's length (sock_getsockopt).
template <class T>
sys_result put_opt(const T& v, void* val, unsigned* len) noexcept {
  if (val == nullptr || len == nullptr) return sys_result::fail(EFAULT);
  const unsigned n = std::min<unsigned>(*len, sizeof(T));
  std::memcpy(val, &v, n);
  *len = n;
  return {};
}

bool get_int(const void* val, unsigned len, int& out) noexcept {
  if (val == nullptr || len < sizeof(int)) return false;
  std::memcpy(&out, val, sizeof(int));
  return true;
}

}  // namespace

stack_under_test::stack_under_test(const so_config& cfg)
    : cfg_(cfg),
      now_(cfg.start_usecs * 1000),
      port_({.ours = cfg.iface.mac, .peer = cfg.peer_mac, .mtu = cfg.mtu}),
      ifc_(port_, cfg.iface) {
  port_.set_now(now_);
}

stack_under_test::~stack_under_test() {
  // Sockets before their interface (stack::interface's rule); what a close sends is dropped with the port.
  for (auto& [_, e] : fds_.entries()) {
    if (e.sock) e.sock->abort(now_);
    if (e.listener) e.listener->close();
  }
  fds_.entries().clear();
}

// ------------------------------------------------------------------------------------------ clock

void stack_under_test::pump(lock& l) {
  port_.set_now(now_);
  // An ARP request is answered into the RX queue at once, so a poll may leave frames for the next;
  // a lane has nothing else that feeds itself, so a few rounds settle it.
  for (int round = 0; round < 16; ++round) {
    ifc_.poll(now_);
    if (port_.pending_rx() == 0) break;
  }
  ++polls_;
  if (waiting_ == 0) return;
  // Blocked calls look at what this poll changed before the caller goes on: one that is ready now
  // returns at this virtual instant (as a kernel's would return at once), not after the caller has
  // moved the clock further while the woken thread waited for the lock.
  unseen_ = waiting_;
  progress_.notify_all();
  seen_.wait_for(l, std::chrono::milliseconds(cfg_.stall_ms), [&] { return unseen_ == 0; });
}

void stack_under_test::run_until(lock& l, stack::time_ns t) {
  for (;;) {
    pump(l);
    const stack::time_ns next = ifc_.next_deadline();
    if (next > t) break;
    // A timer armed for a time already past fires one nanosecond on (timer_queue's rule): the clock
    // never stands still here, so the loop ends.
    now_ = std::max(next, now_ + 1);
  }
  now_ = std::max(now_, t);
  pump(l);
}

sys_result stack_under_test::usleep(std::uint64_t usecs) {
  lock l(mu_);
  run_until(l, now_ + usecs * 1000);
  return {};
}

sys_result stack_under_test::gettimeofday(timeval* tv) {
  lock l(mu_);
  run_until(l, now_ + cfg_.tick_usecs * 1000);
  if (tv != nullptr) {
    const std::uint64_t us = now_ / 1000;
    tv->tv_sec = static_cast<time_t>(us / 1'000'000);
    tv->tv_usec = static_cast<suseconds_t>(us % 1'000'000);
  }
  return {};
}

template <class Ready>
bool stack_under_test::wait(lock& l, Ready ready, stack::time_ns deadline, int& err) {
  while (!ready()) {
    if (now_ >= deadline) return false;
    const std::uint64_t seen = polls_;
    ++waiting_;
    const bool moved = progress_.wait_for(l, std::chrono::milliseconds(cfg_.stall_ms), [&] { return polls_ != seen; });
    --waiting_;
    if (moved && unseen_ > 0 && --unseen_ == 0) seen_.notify_all();   // pump() waits for every waiter to look
    if (!moved) {
      std::fprintf(stderr,
                   "libringlab_packetdrill: a blocking call saw the stack stand still for %lld ms of real time: "
                   "nothing moves the virtual clock (a blocking call on packetdrill's main thread?)\n",
                   static_cast<long long>(cfg_.stall_ms));
      err = EDEADLK;
      return false;
    }
  }
  return true;
}

template <class Ready>
fd_entry* stack_under_test::wait_on(lock& l, int fd, const void* held, Ready ready, int& err) {
  auto holds = [&](const fd_entry* e) { return e != nullptr && (e->sock.get() == held || e->listener.get() == held); };
  if (!wait(l, [&] { return !holds(fds_.find(fd)) || ready(); }, stack::never, err)) return nullptr;
  fd_entry* e = fds_.find(fd);
  if (!holds(e)) err = EBADF;   // another thread closed it meanwhile
  return holds(e) ? e : nullptr;
}

// ----------------------------------------------------------------------------------------- device

sys_result stack_under_test::netdev_send(std::span<const std::byte> ip) {
  lock l(mu_);
  if (const auto ec = port_.inject_ip(ip, now_)) return sys_result::fail(errno_of(ec));
  pump(l);
  return {};
}

sys_result stack_under_test::netdev_receive(std::span<std::byte> buf, std::size_t& count, long long& time_usecs) {
  lock l(mu_);
  // A packet that leaves later leaves when a timer fires (a retransmission, a delayed ACK): run the
  // clock ahead to each deadline in turn, as real time would pass while packetdrill waits.
  const stack::time_ns limit = now_ + cfg_.receive_limit_secs * stack::sec;
  pump(l);
  while (!port_.has_sent()) {
    const stack::time_ns next = ifc_.next_deadline();
    if (next == stack::never || next > limit) {
      count = 0;   // packetdrill then fails the script on an empty packet: better than waiting forever
      return {};
    }
    now_ = std::max(next, now_ + 1);
    pump(l);
  }
  const ip_port::sent_packet p = port_.take_sent();
  count = std::min(buf.size(), p.ip.size());
  std::memcpy(buf.data(), p.ip.data(), count);
  time_usecs = static_cast<long long>(p.t / 1000);
  return {};
}

// ------------------------------------------------------------------------------------ socket calls

tcp::connection_config stack_under_test::config_for(const socket_options& o) const noexcept {
  tcp::connection_config c = cfg_.tcp;
  if (o.no_delay) c.nagle = false;
  if (o.rcvbuf > 0) c.recv_buffer = static_cast<std::size_t>(o.rcvbuf);
  if (o.sndbuf > 0) c.send_buffer = static_cast<std::size_t>(o.sndbuf);
  if (o.maxseg > 0) c.mss = static_cast<std::uint16_t>(std::min<int>(c.mss, o.maxseg));
  if (o.keepalive) {
    c.keepalive_idle = static_cast<stack::time_ns>(o.keepidle) * stack::sec;
    c.keepalive_interval = static_cast<stack::time_ns>(o.keepintvl) * stack::sec;
    c.keepalive_probes = static_cast<unsigned>(o.keepcnt);
  }
  return c;
}

sys_result stack_under_test::socket(int domain, int type, int protocol) {
  lock l(mu_);
  if (domain != AF_INET) return sys_result::fail(EAFNOSUPPORT);   // no IPv6 in the stack
  if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != SOCK_STREAM) return sys_result::fail(ESOCKTNOSUPPORT);
  if (protocol != 0 && protocol != IPPROTO_TCP) return sys_result::fail(EPROTONOSUPPORT);
  fd_entry e;
  e.opt.nonblocking = (type & SOCK_NONBLOCK) != 0;
  return {fds_.add(std::move(e)), 0};
}

sys_result stack_under_test::bind(int fd, const sockaddr* addr, unsigned addrlen) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  stack::endpoint ep;
  if (const auto r = to_endpoint(addr, addrlen, ep); r.err) return r;
  if (e->bound || e->sock || e->listener) return sys_result::fail(EINVAL);   // bound already
  if (!ep.addr.is_unspecified() && ep.addr != cfg_.iface.addr) return sys_result::fail(EADDRNOTAVAIL);
  if (ep.port != 0 && fds_.port_taken(ep.port, *e)) return sys_result::fail(EADDRINUSE);
  e->bound = ep;
  return {};
}

sys_result stack_under_test::listen(int fd, int backlog) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  if (e->sock) return sys_result::fail(EINVAL);   // connected (or connecting): Linux refuses
  if (e->listener) return {};                     // listening already (Linux would resize the backlog)
  auto lis = std::make_unique<stack::tcp_listener>(ifc_, config_for(e->opt));
  if (const auto ec = lis->bind(e->bound.value_or(stack::endpoint{})); ec) return sys_result::fail(errno_of(ec));
  const unsigned b = static_cast<unsigned>(backlog) > somaxconn ? somaxconn : static_cast<unsigned>(backlog);
  if (const auto ec = lis->listen(b); ec) return sys_result::fail(errno_of(ec));
  e->listener = std::move(lis);
  pump(l);
  return {};
}

sys_result stack_under_test::accept(int fd, sockaddr* addr, unsigned* addrlen) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  stack::tcp_listener* lis = e->listener.get();
  if (lis == nullptr) return sys_result::fail(EINVAL);   // not listening
  const socket_options inherited = e->opt;
  const bool nonblocking = e->opt.nonblocking;
  for (;;) {
    std::unique_ptr<stack::tcp_socket> s;
    const auto ec = lis->accept(s);
    if (!ec) {
      const stack::endpoint peer = s->remote_endpoint();
      fd_entry n;
      n.opt = inherited;
      n.opt.nonblocking = false;   // Linux's accept() does not pass O_NONBLOCK on (accept4 would)
      n.sock = std::move(s);
      n.connecting = fd_entry::connect_state::done;
      const int nfd = fds_.add(std::move(n));
      fill_sockaddr(peer, addr, addrlen);
      return {nfd, 0};
    }
    if (!is(ec, std::errc::operation_would_block)) return sys_result::fail(errno_of(ec));
    if (nonblocking) return sys_result::fail(EAGAIN);
    int err = 0;
    if (wait_on(l, fd, lis, [&] { return lis->pending() > 0; }, err) == nullptr) return sys_result::fail(err);
  }
}

sys_result stack_under_test::connect(int fd, const sockaddr* addr, unsigned addrlen) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  stack::endpoint ep;
  if (const auto r = to_endpoint(addr, addrlen, ep); r.err) return r;
  if (e->listener) return sys_result::fail(EISCONN);
  if (e->sock) {
    // A connect() again on a non-blocking socket, as Linux's inet_stream_connect answers it: still
    // going, EALREADY; done, 0 once and then EISCONN; failed, the error once.
    stack::tcp_socket& s = *e->sock;
    if (e->connecting == fd_entry::connect_state::in_progress) {
      if (s.connected()) {
        e->connecting = fd_entry::connect_state::done;
        return {};
      }
      if (s.error()) {
        e->connecting = fd_entry::connect_state::done;
        e->error_reported = true;
        return sys_result::fail(errno_of(s.error()));
      }
      return sys_result::fail(EALREADY);
    }
    return sys_result::fail(EISCONN);
  }
  auto s = std::make_unique<stack::tcp_socket>(ifc_, config_for(e->opt));
  if (e->bound) {
    if (const auto ec = s->bind(*e->bound); ec) return sys_result::fail(errno_of(ec));
  }
  if (const auto ec = s->connect(ep, now_); ec) return sys_result::fail(errno_of(ec));
  stack::tcp_socket* sp = s.get();
  e->sock = std::move(s);
  e->connecting = fd_entry::connect_state::in_progress;
  pump(l);
  if (e->opt.nonblocking) return sys_result::fail(EINPROGRESS);
  int err = 0;
  e = wait_on(l, fd, sp, [&] { return sp->connected() || sp->error() || !sp->is_open(); }, err);
  if (e == nullptr) return sys_result::fail(err);
  e->connecting = fd_entry::connect_state::done;
  if (sp->connected()) return {};
  e->error_reported = true;
  return sys_result::fail(sp->error() ? errno_of(sp->error()) : ECONNREFUSED);
}

sys_result stack_under_test::receive(int fd, std::span<std::byte> buf, int flags) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  if (flags & (MSG_PEEK | MSG_OOB)) return sys_result::fail(EOPNOTSUPP);   // not in the stack's API
  if (e->sock == nullptr) return sys_result::fail(ENOTCONN);
  if (e->shut_rd || buf.empty()) return {};
  stack::tcp_socket* s = e->sock.get();
  const bool nonblocking = e->opt.nonblocking || (flags & MSG_DONTWAIT) != 0;
  for (;;) {
    const auto r = s->receive(buf, now_);
    pump(l);   // reading may open the window: the update is out before we return
    if (r.bytes > 0) return {static_cast<long long>(r.bytes), 0};
    if (!r.ec) return {};   // the peer's FIN, every byte before it read: EOF
    if (!is(r.ec, std::errc::operation_would_block)) {
      // Linux reports a reset once (sk_err); reads after it see a closed socket: 0.
      if (e->error_reported) return {};
      e->error_reported = true;
      return sys_result::fail(errno_of(r.ec));
    }
    if (nonblocking) return sys_result::fail(EAGAIN);
    int err = 0;
    e = wait_on(l, fd, s, [&] { return s->available() > 0 || s->peer_closed() || s->error() || !s->is_open(); }, err);
    if (e == nullptr) return sys_result::fail(err);
  }
}

sys_result stack_under_test::send(int fd, std::span<const std::byte> data, int flags) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  if (flags & MSG_OOB) return sys_result::fail(EOPNOTSUPP);
  // Linux's tcp_sendmsg on a socket that never connected, or after shutdown(SHUT_WR): EPIPE (and
  // SIGPIPE, which packetdrill ignores).
  if (e->sock == nullptr || e->shut_wr) return sys_result::fail(EPIPE);
  if (data.empty()) return {};
  stack::tcp_socket* s = e->sock.get();
  const bool nonblocking = e->opt.nonblocking || (flags & MSG_DONTWAIT) != 0;
  std::size_t done = 0;
  for (;;) {
    const auto r = s->send(data.subspan(done), now_);
    pump(l);
    done += r.bytes;
    if (done == data.size()) return {static_cast<long long>(done), 0};
    const bool handshaking = s->state() == tcp::state::syn_sent || s->state() == tcp::state::syn_received;
    const bool full = !r.ec || is(r.ec, std::errc::operation_would_block) ||
                      (is(r.ec, std::errc::not_connected) && handshaking);
    if (!full) {
      if (done > 0) return {static_cast<long long>(done), 0};
      if (s->error() && !e->error_reported) {
        e->error_reported = true;
        return sys_result::fail(errno_of(s->error()));
      }
      return sys_result::fail(is(r.ec, std::errc::not_connected) ? EPIPE : errno_of(r.ec));
    }
    if (nonblocking) return done > 0 ? sys_result{static_cast<long long>(done), 0} : sys_result::fail(EAGAIN);
    int err = 0;
    e = wait_on(l, fd, s, [&] { return (s->connected() && s->send_room() > 0) || s->error() || !s->is_open(); }, err);
    if (e == nullptr) return done > 0 ? sys_result{static_cast<long long>(done), 0} : sys_result::fail(err);
  }
}

sys_result stack_under_test::close(int fd) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  if (e->sock) {
    // SO_LINGER on with 0 s: RST instead of FIN (Linux's tcp_close, "linger2 0"). A longer linger
    // would block close() until the FIN is acknowledged; here close() returns at once.
    if (e->opt.linger && *e->opt.linger == 0) e->sock->abort(now_);
    else e->sock->close(now_);
  }
  if (e->listener) e->listener->close();
  fds_.erase(fd);
  pump(l);
  return {};
}

sys_result stack_under_test::shutdown(int fd, int how) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return sys_result::fail(EINVAL);
  if (e->listener) {
    // Linux's inet_shutdown: a listener shut for reading stops listening; SHUT_WR does nothing.
    if (how != SHUT_WR) {
      e->listener->close();
      e->listener.reset();
      pump(l);
    }
    return {};
  }
  if (e->sock == nullptr || e->sock->state() == tcp::state::closed) return sys_result::fail(ENOTCONN);
  if (e->sock->state() == tcp::state::syn_sent) {   // Linux disconnects a connect in progress
    e->sock->abort(now_);
    pump(l);
    return {};
  }
  if (how != SHUT_WR) e->shut_rd = true;
  if (how != SHUT_RD && !e->shut_wr) {
    e->shut_wr = true;
    if (const auto ec = e->sock->shutdown_send(now_); ec) return sys_result::fail(errno_of(ec));
  }
  pump(l);
  return {};
}

sys_result stack_under_test::getsockopt(int fd, int level, int name, void* val, unsigned* len) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  const socket_options& o = e->opt;
  const tcp::connection_config c = config_for(o);
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR: {
        int v = 0;
        if (e->sock && e->sock->error() && !e->error_reported) {
          v = errno_of(e->sock->error());
          e->error_reported = true;
        }
        return put_opt(v, val, len);
      }
      case SO_REUSEADDR: return put_opt(int{o.reuse_addr}, val, len);
      case SO_KEEPALIVE: return put_opt(int{o.keepalive}, val, len);
      // Linux doubles what setsockopt asked (for its bookkeeping) and reports the doubled value.
      case SO_RCVBUF: return put_opt(o.rcvbuf > 0 ? 2 * o.rcvbuf : static_cast<int>(c.recv_buffer), val, len);
      case SO_SNDBUF: return put_opt(o.sndbuf > 0 ? 2 * o.sndbuf : static_cast<int>(c.send_buffer), val, len);
      case SO_TYPE: return put_opt(int{SOCK_STREAM}, val, len);
      case SO_DOMAIN: return put_opt(int{AF_INET}, val, len);
      case SO_PROTOCOL: return put_opt(int{IPPROTO_TCP}, val, len);
      case SO_ACCEPTCONN: return put_opt(int{e->listener != nullptr}, val, len);
      case SO_LINGER: return put_opt(linger{o.linger.has_value(), o.linger.value_or(0)}, val, len);
      default: return sys_result::fail(ENOPROTOOPT);
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY: return put_opt(int{o.no_delay}, val, len);
      case TCP_MAXSEG: return put_opt(int{c.mss}, val, len);
      case TCP_KEEPIDLE: return put_opt(o.keepidle, val, len);
      case TCP_KEEPINTVL: return put_opt(o.keepintvl, val, len);
      case TCP_KEEPCNT: return put_opt(o.keepcnt, val, len);
      default: return sys_result::fail(ENOPROTOOPT);
    }
  }
  return sys_result::fail(ENOPROTOOPT);
}

sys_result stack_under_test::setsockopt(int fd, int level, int name, const void* val, unsigned len) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  if (val == nullptr) return sys_result::fail(EFAULT);
  socket_options& o = e->opt;
  if (level == SOL_SOCKET && name == SO_LINGER) {
    if (len < sizeof(linger)) return sys_result::fail(EINVAL);
    linger lg{};
    std::memcpy(&lg, val, sizeof lg);
    o.linger = lg.l_onoff ? std::optional<int>(std::max(lg.l_linger, 0)) : std::nullopt;
    return {};
  }
  int v = 0;
  if (!get_int(val, len, v)) return sys_result::fail(EINVAL);
  stack::tcp_socket* s = e->sock.get();
  auto keepalive_now = [&] {
    if (s) s->set_keepalive(o.keepalive, static_cast<stack::time_ns>(o.keepidle) * stack::sec);
  };
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR: o.reuse_addr = v != 0; return {};
      case SO_KEEPALIVE: o.keepalive = v != 0; keepalive_now(); return {};
      // Applied to the buffers of a socket made after this (connect, listen); a live one keeps its.
      case SO_RCVBUF: o.rcvbuf = std::max(v, 1152); return {};   // Linux's SOCK_MIN_RCVBUF / 2
      case SO_SNDBUF: o.sndbuf = std::max(v, 2304); return {};   // Linux's SOCK_MIN_SNDBUF / 2
      default: return sys_result::fail(ENOPROTOOPT);
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY:
        o.no_delay = v != 0;
        if (s) s->set_no_delay(o.no_delay);
        return {};
      case TCP_MAXSEG:
        if (v < 88 || v > 65535) return sys_result::fail(EINVAL);   // Linux's TCP_MIN_MSS .. MAX_TCP_WINDOW
        o.maxseg = v;
        return {};
      case TCP_KEEPIDLE:
        if (v < 1 || v > 32767) return sys_result::fail(EINVAL);   // Linux's MAX_TCP_KEEPIDLE
        o.keepidle = v;
        if (o.keepalive) keepalive_now();
        return {};
      case TCP_KEEPINTVL:
        if (v < 1 || v > 32767) return sys_result::fail(EINVAL);
        o.keepintvl = v;
        return {};
      case TCP_KEEPCNT:
        if (v < 1 || v > 127) return sys_result::fail(EINVAL);
        o.keepcnt = v;
        return {};
      default: return sys_result::fail(ENOPROTOOPT);
    }
  }
  return sys_result::fail(ENOPROTOOPT);
}

sys_result stack_under_test::fcntl(int fd, int cmd, long arg) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  switch (cmd) {
    case F_GETFL: return {O_RDWR | (e->opt.nonblocking ? O_NONBLOCK : 0), 0};
    case F_SETFL: e->opt.nonblocking = (arg & O_NONBLOCK) != 0; return {};
    case F_GETFD:
    case F_SETFD: return {};   // close-on-exec means nothing for a descriptor no exec() sees
    default: return sys_result::fail(EINVAL);
  }
}

sys_result stack_under_test::ioctl(int fd, unsigned long request, void* arg) {
  lock l(mu_);
  fd_entry* e = fds_.find(fd);
  if (e == nullptr) return sys_result::fail(EBADF);
  if (arg == nullptr) return sys_result::fail(EFAULT);
  switch (request) {
    case FIONBIO: {
      int v = 0;
      std::memcpy(&v, arg, sizeof v);
      e->opt.nonblocking = v != 0;
      return {};
    }
    case SIOCINQ: {   // == FIONREAD: bytes readable now
      if (e->listener) return sys_result::fail(EINVAL);
      const int v = e->sock ? static_cast<int>(e->sock->available()) : 0;
      std::memcpy(arg, &v, sizeof v);
      return {};
    }
    default: return sys_result::fail(ENOTTY);
  }
}

short stack_under_test::poll_events(int fd) noexcept {
  const fd_entry* e = fds_.find(fd);
  if (e == nullptr) return POLLNVAL;
  if (e->listener) return e->listener->pending() > 0 ? (POLLIN | POLLRDNORM) : 0;
  // As Linux's tcp_poll: a socket that is closed (never connected, or ended) hangs up; the peer's FIN
  // or our SHUT_RD makes it readable (EOF); writable once synchronized while the buffer has room.
  const stack::tcp_socket* s = e->sock.get();
  const tcp::state st = s ? s->state() : tcp::state::closed;
  short m = 0;
  const bool closed = st == tcp::state::closed;
  if ((e->shut_rd && e->shut_wr) || closed) m |= POLLHUP;
  if (e->shut_rd || (s && (s->peer_closed() || (closed && e->connecting != fd_entry::connect_state::none))))
    m |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (st != tcp::state::syn_sent && st != tcp::state::syn_received) {
    if (s && s->available() > 0) m |= POLLIN | POLLRDNORM;
    if (e->shut_wr || closed || (s && s->send_room() > 0)) m |= POLLOUT | POLLWRNORM;
  }
  if (s && s->error() && !e->error_reported) m |= POLLERR;
  return m;
}

sys_result stack_under_test::poll(pollfd* fds, std::size_t n, int timeout_ms) {
  lock l(mu_);
  if (n > 0 && fds == nullptr) return sys_result::fail(EFAULT);
  auto scan = [&] {
    long long ready = 0;
    for (std::size_t i = 0; i < n; ++i) {
      fds[i].revents = 0;
      if (fds[i].fd < 0) continue;   // ignored, as poll(2) says
      const short m = poll_events(fds[i].fd);
      fds[i].revents = static_cast<short>(m & (fds[i].events | POLLERR | POLLHUP | POLLNVAL));
      if (fds[i].revents) ++ready;
    }
    return ready;
  };
  long long ready = scan();
  if (ready > 0 || timeout_ms == 0) return {ready, 0};
  const stack::time_ns deadline =
      timeout_ms < 0 ? stack::never : now_ + static_cast<stack::time_ns>(timeout_ms) * stack::ms;
  int err = 0;
  wait(l, [&] { return (ready = scan()) > 0; }, deadline, err);
  if (err) return sys_result::fail(err);
  return {ready, 0};
}

}  // namespace ringlab::packetdrill
