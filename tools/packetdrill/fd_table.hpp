#pragma once
// fd_table: packetdrill's file descriptors, each a Berkeley socket over our stack-level TCP API.
//
// A Berkeley socket becomes one of two objects of ours only when the script decides which:
//
//   socket() ─► fd_entry {options, bound endpoint}      nothing in the stack yet (Linux: TCP_CLOSE)
//      ├─ listen() ─► stack::tcp_listener, bound to the endpoint bind() recorded (or an ephemeral port)
//      └─ connect() ─► stack::tcp_socket, bound likewise, SYN out
//   accept() ─► a new fd_entry holding the accepted stack::tcp_socket
//
// so bind() records and checks (address ours or any; port not taken by another entry of this table,
// as Linux's inet_csk_get_port would refuse it) and the stack's own bind happens at listen/connect.
// The options a script sets before listen/connect go into the tcp::connection_config the stack object
// is made with; TCP_NODELAY and SO_KEEPALIVE also apply to a live socket.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "stack/socket/endpoint.hpp"
#include "stack/socket/tcp_listener.hpp"
#include "stack/socket/tcp_socket.hpp"

namespace ringlab::packetdrill {

struct socket_options {
  bool nonblocking = false;   // O_NONBLOCK (fcntl F_SETFL, or SOCK_NONBLOCK at socket())
  bool reuse_addr = false;    // SO_REUSEADDR
  bool keepalive = false;     // SO_KEEPALIVE
  bool no_delay = false;      // TCP_NODELAY
  int rcvbuf = 0, sndbuf = 0; // SO_RCVBUF / SO_SNDBUF as set (0: the config's); getsockopt reads twice it, as Linux's
  std::optional<int> linger;  // SO_LINGER on, with this many seconds (0: close() sends RST)
  int keepidle = 7200, keepintvl = 75, keepcnt = 9;   // TCP_KEEPIDLE/INTVL/CNT, Linux's defaults
  int maxseg = 0;             // TCP_MAXSEG before connect/listen (0: the config's MSS)
};

struct fd_entry {
  socket_options opt;
  std::optional<stack::endpoint> bound;            // what bind() asked for
  std::unique_ptr<stack::tcp_socket> sock;         // after connect() or accept()
  std::unique_ptr<stack::tcp_listener> listener;   // after listen()
  enum class connect_state : std::uint8_t { none, in_progress, done } connecting = connect_state::none;
  bool shut_rd = false, shut_wr = false;
  bool error_reported = false;   // the socket's error was returned once (SO_ERROR, a call): not again
};

class fd_table {
 public:
  static constexpr int first_fd = 3;   // as a fresh Linux process's first socket()

  // The lowest free descriptor, as Linux gives.
  int add(fd_entry e);
  fd_entry* find(int fd) noexcept;
  void erase(int fd) noexcept { fds_.erase(fd); }
  // Whether another entry (not `self`) holds `port` (bound, listening or connected) so that binding
  // it again is EADDRINUSE: a listener on it, or either side without SO_REUSEADDR.
  bool port_taken(std::uint16_t port, const fd_entry& self) const noexcept;
  std::map<int, fd_entry>& entries() noexcept { return fds_; }

 private:
  std::map<int, fd_entry> fds_;
};

}  // namespace ringlab::packetdrill
