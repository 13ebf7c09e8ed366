#pragma once
// stack_under_test: everything one packetdrill run talks to through libringlab_packetdrill.so.
//
//   packetdrill ──socket calls──► fd_table ──► stack::tcp_socket / tcp_listener ─┐
//               ──netdev_send───► ip_port (IPv4 in Ethernet) ──► stack::interface ◄┘
//               ◄─netdev_receive─ ip_port (Ethernet off)     ◄──   (one lane: poll(now), timers)
//               ──usleep / gettimeofday──► the virtual clock: moving it runs the stack's timers
//
// Time is virtual: `now` moves only when packetdrill sleeps (usleep), reads the clock (gettimeofday:
// one tick per read, so_flags.hpp says why), or waits in netdev_receive for a packet that leaves
// later (the clock runs ahead timer by timer until one does). After every call the stack is polled
// until its port is quiet, so a segment a call caused is ready for netdev_receive at once.
//
// Threads: packetdrill makes blocking calls (a script line with an end time) on a second thread
// while its main thread goes on injecting packets and moving the clock. One mutex guards all of it;
// a blocking call waits on a condition variable that every poll of the stack signals, and the poll
// waits until each blocked call has looked: a call made ready returns at that virtual instant, never
// after the main thread moved the clock on while the woken thread waited for the lock. A blocking
// call that sees no poll for so_flags' stall_ms of real time fails with EDEADLK and says why on stderr
// (no other thread is moving the clock: a hang otherwise).
//
// Every call returns a sys_result: the value a Linux call returns, or err (an errno) with -1.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>

#include "stack/iface/interface.hpp"
#include "tools/packetdrill/fd_table.hpp"
#include "tools/packetdrill/ip_port.hpp"
#include "tools/packetdrill/so_flags.hpp"

struct pollfd;
struct sockaddr;
struct timeval;

namespace ringlab::packetdrill {

struct sys_result {
  long long value = 0;   // meaningful when err == 0
  int err = 0;           // errno, or 0
  static sys_result fail(int e) noexcept { return {-1, e}; }
};

class stack_under_test {
 public:
  explicit stack_under_test(const so_config& cfg);
  ~stack_under_test();
  stack_under_test(const stack_under_test&) = delete;
  stack_under_test& operator=(const stack_under_test&) = delete;

  // Socket calls, as Linux answers them for an AF_INET SOCK_STREAM socket.
  sys_result socket(int domain, int type, int protocol);
  sys_result bind(int fd, const sockaddr* addr, unsigned addrlen);
  sys_result listen(int fd, int backlog);
  sys_result accept(int fd, sockaddr* addr, unsigned* addrlen);
  sys_result connect(int fd, const sockaddr* addr, unsigned addrlen);
  sys_result receive(int fd, std::span<std::byte> buf, int flags);   // read, recv, recvfrom, readv, recvmsg
  sys_result send(int fd, std::span<const std::byte> data, int flags);   // write, send, sendto, writev, sendmsg
  sys_result close(int fd);
  sys_result shutdown(int fd, int how);
  sys_result getsockopt(int fd, int level, int name, void* val, unsigned* len);
  sys_result setsockopt(int fd, int level, int name, const void* val, unsigned len);
  sys_result fcntl(int fd, int cmd, long arg);
  sys_result ioctl(int fd, unsigned long request, void* arg);
  sys_result poll(pollfd* fds, std::size_t n, int timeout_ms);

  // The device and the clock.
  sys_result netdev_send(std::span<const std::byte> ip);
  // Copies the next packet out (count: its length, 0 when none left within receive_limit_secs).
  sys_result netdev_receive(std::span<std::byte> buf, std::size_t& count, long long& time_usecs);
  sys_result usleep(std::uint64_t usecs);
  sys_result gettimeofday(timeval* tv);

  // For tests and the README's counters.
  stack::time_ns now() const noexcept { return now_; }
  const stack::interface& iface() const noexcept { return ifc_; }
  const ip_port_counters& port_counters() const noexcept { return port_.counters(); }

 private:
  using lock = std::unique_lock<std::mutex>;
  // Polls the stack at now_ until the port has nothing left to deliver; wakes blocked calls.
  void pump(lock& l);
  // Moves the clock to t, running every timer due on the way, in order.
  void run_until(lock& l, stack::time_ns t);
  // Blocks (a blocking socket) until ready() or, with a deadline, until now_ reaches it. false: the
  // deadline passed, or stalled (err = EDEADLK).
  template <class Ready>
  bool wait(lock& l, Ready ready, stack::time_ns deadline, int& err);
  // A blocking socket call's wait: until ready(), or until `fd` no longer holds `held` (its socket or
  // listener). The entry, or nullptr with err (EBADF: closed by another thread meanwhile; EDEADLK).
  template <class Ready>
  fd_entry* wait_on(lock& l, int fd, const void* held, Ready ready, int& err);
  tcp::connection_config config_for(const socket_options& o) const noexcept;
  sys_result bind_stack_side(fd_entry& e);
  short poll_events(int fd) noexcept;

  so_config cfg_;
  mutable std::mutex mu_;
  std::condition_variable progress_;
  std::uint64_t polls_ = 0;   // pump() calls: a blocked call sees the stack move
  std::condition_variable seen_;   // a woken blocked call has looked (pump waits for all of them)
  unsigned waiting_ = 0;           // blocked calls waiting on progress_
  unsigned unseen_ = 0;            // of those, how many have not yet looked at the last poll
  stack::time_ns now_;
  ip_port port_;
  stack::interface ifc_;
  fd_table fds_;
};

}  // namespace ringlab::packetdrill
