#pragma once
// The measured receiver, behind an interface with no Asio type (one build per io mode).
#include <cstdint>
#include <memory>

namespace ringlab::bench {

struct rx_result {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t cpu_ns = 0;     // this thread's CPU time while receiving
  bool timed_out = false;
};

class udp_rx {
 public:
  virtual ~udp_rx() = default;
  virtual std::uint16_t port() const = 0;   // bound on 127.0.0.1
  // Receives n datagrams with a chain of async_receive (one in flight, re-armed from its handler) on
  // its own io_context run by the calling thread; gives up after 5 s without traffic.
  virtual rx_result receive(std::uint64_t n) = 0;
};

namespace epoll { std::unique_ptr<udp_rx> make_udp_rx(); }
namespace uring { std::unique_ptr<udp_rx> make_udp_rx(); }

}  // namespace ringlab::bench
