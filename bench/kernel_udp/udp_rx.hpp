#pragma once
// The measured receiver, behind an interface with no Asio type (one build per io mode).
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "bench/cpu.hpp"   // thread_cpu_ns, pin_to_cpu

namespace ringlab::bench {

// Every receiver measured against another gets the same deep socket queue (8 MiB), so that a
// scheduling hiccup drops less. SO_RCVBUFFORCE passes net.core.rmem_max as root; else SO_RCVBUF.
inline void deep_receive_buffer(int fd) noexcept {
  int bytes = 8 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

struct rx_result {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t cpu_ns = 0;     // this thread's CPU time while receiving
  std::uint64_t in_order = 0;   // mcast receivers: datagrams whose number was the next one expected
  std::uint64_t repeated = 0;   // mcast receivers: numbers seen before (duplicate or stale)
  bool timed_out = false;
  std::chrono::steady_clock::time_point last_packet{};   // receive_until only: within 64 packets of the last
};

// Where the receiver binds: 127.0.0.1 on a free port unless told (bench/veth_rx binds a veth address).
struct rx_where {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
};

class udp_rx {
 public:
  virtual ~udp_rx() = default;
  virtual std::uint16_t port() const = 0;   // bound on rx_where (127.0.0.1 by default)
  // Receives n datagrams with a chain of async_receive (one in flight, re-armed from its handler) on
  // its own io_context run by the calling thread; gives up after 5 s without traffic.
  virtual rx_result receive(std::uint64_t n) = 0;
  // The same chain, for a sender that may lose datagrams on the way (bench/veth_rx): stops at n, or
  // once source_done is set and nothing arrived for `quiet`, or after 5 s without traffic (timed_out).
  // A timer checks every quiet / 2, and every 64th handler reads the clock for last_packet. This
  // default (for receivers that cannot stop early, e.g. bench/bypass_udp's) is receive(n).
  virtual rx_result receive_until(std::uint64_t n, const std::atomic<bool>& /*source_done*/,
                                  std::chrono::milliseconds /*quiet*/) {
    rx_result r = receive(n);
    r.last_packet = std::chrono::steady_clock::now();
    return r;
  }
};

namespace epoll { std::unique_ptr<udp_rx> make_udp_rx(const rx_where& where = {}); }
namespace uring { std::unique_ptr<udp_rx> make_udp_rx(const rx_where& where = {}); }

}  // namespace ringlab::bench
