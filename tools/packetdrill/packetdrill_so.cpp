// libringlab_packetdrill.so's one exported symbol, packetdrill_interface_init, and the C functions it
// puts into packetdrill's struct: each turns packetdrill's arguments into a stack_under_test call and
// its sys_result into what a libc call returns (-1 with errno set, or the value).
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <variant>
#include <vector>

#include "tools/packetdrill/packetdrill_interface.hpp"
#include "tools/packetdrill/so_flags.hpp"
#include "tools/packetdrill/stack_under_test.hpp"

namespace {

using ringlab::packetdrill::stack_under_test;
using ringlab::packetdrill::sys_result;

stack_under_test& sut(void* u) noexcept { return *static_cast<stack_under_test*>(u); }

// Runs one call; nothing may unwind into packetdrill's C frames (an allocation that fails is ENOMEM).
template <class R, class F>
R call(F&& f) noexcept {
  sys_result r;
  try {
    r = f();
  } catch (const std::bad_alloc&) {
    r = sys_result::fail(ENOMEM);
  } catch (...) {
    r = sys_result::fail(EIO);
  }
  if (r.err) {
    errno = r.err;
    return R(-1);
  }
  return R(r.value);
}

// readv/recvmsg and writev/sendmsg: one contiguous buffer through the stack, scattered or gathered
// here (TCP is a byte stream: the split between iovecs means nothing to it).
bool iov_total(const iovec* iov, int n, std::size_t& total) noexcept {
  if (n < 0 || n > IOV_MAX || (n > 0 && iov == nullptr)) return false;
  total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  return true;
}

sys_result receive_iov(void* u, int fd, const iovec* iov, int n, int flags) {
  std::size_t total = 0;
  if (!iov_total(iov, n, total)) return sys_result::fail(EINVAL);
  std::vector<std::byte> buf(total);
  const sys_result r = sut(u).receive(fd, buf, flags);
  if (r.err) return r;
  std::size_t left = static_cast<std::size_t>(r.value), at = 0;
  for (int i = 0; i < n && left > 0; ++i) {
    const std::size_t k = std::min(left, iov[i].iov_len);
    std::memcpy(iov[i].iov_base, buf.data() + at, k);
    at += k, left -= k;
  }
  return r;
}

sys_result send_iov(void* u, int fd, const iovec* iov, int n, int flags) {
  std::size_t total = 0;
  if (!iov_total(iov, n, total)) return sys_result::fail(EINVAL);
  std::vector<std::byte> buf(total);
  std::size_t at = 0;
  for (int i = 0; i < n; ++i) {
    if (iov[i].iov_len) std::memcpy(buf.data() + at, iov[i].iov_base, iov[i].iov_len);
    at += iov[i].iov_len;
  }
  return sut(u).send(fd, buf, flags);
}

std::span<std::byte> out_span(void* buf, std::size_t n) noexcept { return {static_cast<std::byte*>(buf), buf ? n : 0}; }
std::span<const std::byte> in_span(const void* buf, std::size_t n) noexcept {
  return {static_cast<const std::byte*>(buf), buf ? n : 0};
}

extern "C" {

void so_free(void* u) { delete static_cast<stack_under_test*>(u); }

int so_socket(void* u, int domain, int type, int protocol) {
  return call<int>([&] { return sut(u).socket(domain, type, protocol); });
}
int so_bind(void* u, int fd, const sockaddr* addr, socklen_t len) {
  return call<int>([&] { return sut(u).bind(fd, addr, len); });
}
int so_listen(void* u, int fd, int backlog) { return call<int>([&] { return sut(u).listen(fd, backlog); }); }
int so_accept(void* u, int fd, sockaddr* addr, socklen_t* len) {
  return call<int>([&] { return sut(u).accept(fd, addr, len); });
}
int so_connect(void* u, int fd, const sockaddr* addr, socklen_t len) {
  return call<int>([&] { return sut(u).connect(fd, addr, len); });
}
ssize_t so_read(void* u, int fd, void* buf, size_t n) {
  return call<ssize_t>([&] { return sut(u).receive(fd, out_span(buf, n), 0); });
}
ssize_t so_readv(void* u, int fd, const iovec* iov, int n) {
  return call<ssize_t>([&] { return receive_iov(u, fd, iov, n, 0); });
}
ssize_t so_recv(void* u, int fd, void* buf, size_t n, int flags) {
  return call<ssize_t>([&] { return sut(u).receive(fd, out_span(buf, n), flags); });
}
ssize_t so_recvfrom(void* u, int fd, void* buf, size_t n, int flags, sockaddr*, socklen_t* len) {
  // TCP's recvmsg names no source: Linux leaves the address alone and sets its length to 0.
  return call<ssize_t>([&] {
    const sys_result r = sut(u).receive(fd, out_span(buf, n), flags);
    if (!r.err && len) *len = 0;
    return r;
  });
}
ssize_t so_recvmsg(void* u, int fd, msghdr* m, int flags) {
  return call<ssize_t>([&] {
    if (m == nullptr) return sys_result::fail(EFAULT);
    const sys_result r = receive_iov(u, fd, m->msg_iov, static_cast<int>(m->msg_iovlen), flags);
    if (!r.err) m->msg_namelen = 0, m->msg_controllen = 0, m->msg_flags = 0;
    return r;
  });
}
ssize_t so_write(void* u, int fd, const void* buf, size_t n) {
  return call<ssize_t>([&] { return sut(u).send(fd, in_span(buf, n), 0); });
}
ssize_t so_writev(void* u, int fd, const iovec* iov, int n) {
  return call<ssize_t>([&] { return send_iov(u, fd, iov, n, 0); });
}
ssize_t so_send(void* u, int fd, const void* buf, size_t n, int flags) {
  return call<ssize_t>([&] { return sut(u).send(fd, in_span(buf, n), flags); });
}
ssize_t so_sendto(void* u, int fd, const void* buf, size_t n, int flags, const sockaddr*, socklen_t) {
  // A connected TCP socket ignores the address, as Linux's tcp_sendmsg does.
  return call<ssize_t>([&] { return sut(u).send(fd, in_span(buf, n), flags); });
}
ssize_t so_sendmsg(void* u, int fd, const msghdr* m, int flags) {
  return call<ssize_t>([&] {
    if (m == nullptr) return sys_result::fail(EFAULT);
    return send_iov(u, fd, m->msg_iov, static_cast<int>(m->msg_iovlen), flags);
  });
}
int so_fcntl(void* u, int fd, int cmd, ...) {
  long arg = 0;
  if (cmd == F_SETFL || cmd == F_SETFD) {   // the commands with an int argument
    va_list ap;
    va_start(ap, cmd);
    arg = va_arg(ap, int);
    va_end(ap);
  }
  return call<int>([&] { return sut(u).fcntl(fd, cmd, arg); });
}
int so_ioctl(void* u, int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return call<int>([&] { return sut(u).ioctl(fd, request, arg); });
}
int so_close(void* u, int fd) { return call<int>([&] { return sut(u).close(fd); }); }
int so_shutdown(void* u, int fd, int how) { return call<int>([&] { return sut(u).shutdown(fd, how); }); }
int so_getsockopt(void* u, int fd, int level, int name, void* val, socklen_t* len) {
  return call<int>([&] { return sut(u).getsockopt(fd, level, name, val, len); });
}
int so_setsockopt(void* u, int fd, int level, int name, const void* val, socklen_t len) {
  return call<int>([&] { return sut(u).setsockopt(fd, level, name, val, len); });
}
int so_poll(void* u, pollfd* fds, nfds_t n, int timeout) {
  return call<int>([&] { return sut(u).poll(fds, n, timeout); });
}
int so_netdev_send(void* u, const void* buf, size_t n) {
  return call<int>([&] { return sut(u).netdev_send(in_span(buf, n)); });
}
int so_netdev_receive(void* u, void* buf, size_t* count, long long* time_usecs) {
  return call<int>([&] {
    if (count == nullptr || time_usecs == nullptr) return sys_result::fail(EFAULT);
    return sut(u).netdev_receive(out_span(buf, *count), *count, *time_usecs);
  });
}
int so_usleep(void* u, useconds_t us) { return call<int>([&] { return sut(u).usleep(us); }); }
int so_gettimeofday(void* u, timeval* tv, struct timezone*) {
  return call<int>([&] { return sut(u).gettimeofday(tv); });
}
// Not in the lab's stack: epoll (packetdrill's epoll scripts), pipes and splice.
int so_epoll_create(void*, int) { return errno = ENOSYS, -1; }
int so_epoll_ctl(void*, int, int, int, epoll_event*) { return errno = ENOSYS, -1; }
int so_epoll_wait(void*, int, epoll_event*, int, int) { return errno = ENOSYS, -1; }
int so_pipe(void*, int*) { return errno = ENOSYS, -1; }
int so_splice(void*, int, loff_t*, int, loff_t*, size_t, unsigned int) { return errno = ENOSYS, -1; }

}  // extern "C"

}  // namespace

extern "C" __attribute__((visibility("default"))) void packetdrill_interface_init(const char* flags,
                                                                                  packetdrill_interface* ifc) {
  auto parsed = ringlab::packetdrill::parse_so_flags(flags ? flags : "");
  if (const auto* msg = std::get_if<std::string>(&parsed)) {
    // packetdrill's init returns nothing and calls through the struct next: a bad flag ends the run
    // here, as packetdrill's own die() does for a bad option.
    std::fprintf(stderr, "libringlab_packetdrill: %s\n", msg->c_str());
    std::exit(2);
  }
  std::memset(ifc, 0, sizeof *ifc);
  ifc->userdata = new stack_under_test(std::get<ringlab::packetdrill::so_config>(parsed));
  ifc->free = so_free;
  ifc->socket = so_socket;
  ifc->bind = so_bind;
  ifc->listen = so_listen;
  ifc->accept = so_accept;
  ifc->connect = so_connect;
  ifc->read = so_read;
  ifc->readv = so_readv;
  ifc->recv = so_recv;
  ifc->recvfrom = so_recvfrom;
  ifc->recvmsg = so_recvmsg;
  ifc->write = so_write;
  ifc->writev = so_writev;
  ifc->send = so_send;
  ifc->sendto = so_sendto;
  ifc->sendmsg = so_sendmsg;
  ifc->fcntl = so_fcntl;
  ifc->ioctl = so_ioctl;
  ifc->close = so_close;
  ifc->shutdown = so_shutdown;
  ifc->getsockopt = so_getsockopt;
  ifc->setsockopt = so_setsockopt;
  ifc->poll = so_poll;
  ifc->netdev_send = so_netdev_send;
  ifc->netdev_receive = so_netdev_receive;
  ifc->usleep = so_usleep;
  ifc->gettimeofday = so_gettimeofday;
  ifc->epoll_create = so_epoll_create;
  ifc->epoll_ctl = so_epoll_ctl;
  ifc->epoll_wait = so_epoll_wait;
  ifc->pipe = so_pipe;
  ifc->splice = so_splice;
}
