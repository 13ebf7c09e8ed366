#pragma once
// The Linux side of the TCP interop: a kernel TCP socket made inside the peer namespace (it stays
// there; the test's thread does not), non-blocking, so that one thread drives both ends in turn — our
// stack by polling, the kernel by MSG_DONTWAIT calls — and every step is the test's own, in order.
// Plus the peer namespace's TCP knobs (sysctls, which are per namespace) and the kernel's own view of
// the connection (TCP_INFO: options it negotiated, its segments in and out, its retransmissions).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>   // not <netinet/tcp.h>: glibc's tcp_info stops before segs_in/out and bytes_*
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/netns.hpp"

namespace ringlab::test_tcp_interop {

// The kernel's TCP states as TCP_INFO's tcpi_state gives them (include/net/tcp_states.h: its ABI).
enum linux_state : std::uint8_t {
  TCP_ESTABLISHED = 1, TCP_SYN_SENT, TCP_SYN_RECV, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_TIME_WAIT, TCP_CLOSE,
  TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_LISTEN, TCP_CLOSING,
};

// One kernel socket (closed by the destructor). Calls answer the errno they met (0: done).
class linux_tcp {
 public:
  explicit linux_tcp(const test::netns& ns) : fd_(test::socket_in(ns, AF_INET, SOCK_STREAM)) {
    if (fd_ < 0) throw test::setup_error("a TCP socket in " + ns.name() + ": " + std::strerror(errno));
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  explicit linux_tcp(int accepted_fd) : fd_(accepted_fd) { ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK); }
  linux_tcp(const linux_tcp&) = delete;
  linux_tcp& operator=(const linux_tcp&) = delete;
  ~linux_tcp() { close(); }

  int fd() const noexcept { return fd_; }
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int set_int(int level, int opt, int v) noexcept { return ::setsockopt(fd_, level, opt, &v, sizeof v) ? errno : 0; }
  int reuse_addr() noexcept { return set_int(SOL_SOCKET, SO_REUSEADDR, 1); }
  int congestion(const std::string& name) noexcept {
    return ::setsockopt(fd_, IPPROTO_TCP, TCP_CONGESTION, name.data(), socklen_t(name.size())) ? errno : 0;
  }
  std::string congestion() const {
    char buf[16] = {};
    socklen_t len = sizeof buf;
    if (::getsockopt(fd_, IPPROTO_TCP, TCP_CONGESTION, buf, &len)) return std::string("? ") + std::strerror(errno);
    return std::string(buf, ::strnlen(buf, len));
  }
  // SO_LINGER {1, 0}: close() then sends a RST instead of a FIN.
  int linger_zero() noexcept {
    const ::linger l{1, 0};
    return ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l) ? errno : 0;
  }

  int bind(const char* ip, std::uint16_t port) noexcept {
    const sockaddr_in a = addr(ip, port);
    return ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) ? errno : 0;
  }
  int listen(int backlog) noexcept { return ::listen(fd_, backlog) ? errno : 0; }
  // EINPROGRESS is the normal answer of a non-blocking connect.
  int connect(const char* ip, std::uint16_t port) noexcept {
    const sockaddr_in a = addr(ip, port);
    return ::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) ? errno : 0;
  }
  // The connect's outcome once writable (SO_ERROR): 0 connected, else its errno.
  int so_error() const noexcept {
    int e = 0;
    socklen_t len = sizeof e;
    return ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &e, &len) ? errno : e;
  }
  // -1 and errno EAGAIN while nothing is pending.
  int accept() noexcept { return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC); }
  std::uint16_t local_port() const noexcept { return port_of(::getsockname); }
  std::uint16_t remote_port() const noexcept { return port_of(::getpeername); }

  // >= 0 bytes (0 from recv: EOF), or -errno.
  long send(const void* p, std::size_t n) noexcept {
    const ssize_t r = ::send(fd_, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    return r < 0 ? -errno : long(r);
  }
  long recv(void* p, std::size_t n) noexcept {
    const ssize_t r = ::recv(fd_, p, n, MSG_DONTWAIT);
    return r < 0 ? -errno : long(r);
  }
  int shutdown_write() noexcept { return ::shutdown(fd_, SHUT_WR) ? errno : 0; }

  ::tcp_info info() const noexcept {
    ::tcp_info i{};
    socklen_t len = sizeof i;
    ::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &i, &len);
    return i;
  }

 private:
  template <class F>
  std::uint16_t port_of(F f) const noexcept {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    return f(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0 ? ntohs(a.sin_port) : 0;
  }
  static sockaddr_in addr(const char* ip, std::uint16_t port) noexcept {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
  }
  int fd_ = -1;
};

// A sysctl of the peer namespace (net.ipv4.tcp_* are per namespace), set with sysctl(8) there.
inline void peer_sysctl(const test::netns& ns, const std::string& key, const std::string& value) {
  const auto r = ns.exec({"sysctl", "-qw", key + "=" + value});
  if (r.exit_code != 0) throw test::setup_error("sysctl " + key + "=" + value + " in " + ns.name() + ": " + r.err);
}

// "" when the kernel offers congestion control `name` (after modprobe tcp_NAME where it is a
// module), else the reason. The list is the host's: congestion modules are global.
inline std::string congestion_unavailable(const std::string& name) {
  auto listed = [&] {
    std::ifstream f("/proc/sys/net/ipv4/tcp_available_congestion_control");
    std::string word;
    while (f >> word)
      if (word == name) return true;
    return false;
  };
  if (listed()) return "";
  test::run({"modprobe", "tcp_" + name});
  if (listed()) return "";
  return "TCP congestion control '" + name + "' is not in this kernel (not in tcp_available_congestion_control, "
         "and modprobe tcp_" + name + " did not load it)";
}

}  // namespace ringlab::test_tcp_interop
