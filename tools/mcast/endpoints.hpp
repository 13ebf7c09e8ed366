#pragma once
// The multicast sender and receiver as the command line sees them: non-templated, no Asio type, so
// one interface serves every io mode and (later) every backend. Behind it, app.hpp's templates run
// over a concrete socket type; kernel_endpoints.cpp instantiates them over asio::ip::udp::socket in
// each io-mode build.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "tools/mcast/datagram.hpp"
#include "tools/mcast/sequence_tracker.hpp"

namespace ringlab::bypass { class AsioService; }

namespace ringlab::mcast {

struct send_options {
  std::uint32_t group = 0;      // IPv4 multicast address, host order
  std::uint16_t port = 0;
  unsigned ttl = 1;
  bool loopback = true;         // IP_MULTICAST_LOOP: local receivers on this host get a copy too
  unsigned ifindex = 0;         // outgoing interface (IP_MULTICAST_IF); 0: the routing table decides
};

struct send_stats {
  std::uint64_t queued = 0;          // async_send() calls taken
  std::uint64_t sent = 0;            // datagrams the socket took
  std::uint64_t payload_bytes = 0;   // their payloads
  std::uint64_t bytes = 0;           // their UDP payloads (header + payload)
  std::uint64_t errors = 0;          // sends that failed (the datagram is dropped, the rest go on)
  std::string last_error;
};

class line_sender {
 public:
  virtual ~line_sender() = default;
  // Queues one datagram and returns at once; the event loop sends the queue in order. Any thread.
  virtual void async_send(std::string payload) = 0;
  // Calls done() on the loop once everything queued before this call was sent. Any thread.
  virtual void async_finish(std::function<void()> done) = 0;
  // Read once the loop has stopped (or from the loop).
  virtual send_stats stats() const = 0;
};

struct recv_options {
  std::uint32_t group = 0;      // host order; the socket binds to it, so other groups' datagrams stay out
  std::uint16_t port = 0;
  unsigned ifindex = 0;         // interface to join on (IP_ADD_MEMBERSHIP); 0: the routing table decides
  bool late_join = false;       // count from the first number received instead of 0
};

struct message {
  datagram_header header;
  std::uint64_t recv_ns = 0;
  sequence_tracker::verdict verdict = sequence_tracker::verdict::in_order;
  std::string_view payload;
};

struct receive_stats {
  sequence_stats seq;
  std::uint64_t bytes = 0;                                  // UDP payload bytes of valid datagrams
  std::array<std::uint64_t, static_cast<std::size_t>(datagram_error::count_)> malformed{};  // by reason
  std::uint64_t errors = 0;                                 // receive errors (receiving stops at one)
  std::string last_error;
  std::uint64_t malformed_total() const noexcept {
    std::uint64_t n = 0;
    for (auto x : malformed) n += x;
    return n;
  }
};

class group_receiver {
 public:
  virtual ~group_receiver() = default;
  // Starts receiving; on_message runs on the loop for each valid datagram and returns false to stop
  // receiving (the loop goes on). on_error runs once if a receive fails (receiving stops). Call once.
  virtual void start(std::function<bool(const message&)> on_message,
                     std::function<void(std::string_view error)> on_error) = 0;
  virtual receive_stats stats() const = 0;
};

// Kernel UDP sockets on the service's io_context, in the service's io mode. Set-up errors (socket,
// bind, join) throw std::system_error naming the step; nothing throws once running.
std::unique_ptr<line_sender> make_kernel_sender(bypass::AsioService& svc, const send_options& o);
std::unique_ptr<group_receiver> make_kernel_receiver(bypass::AsioService& svc, const recv_options& o);

std::string ipv4_to_string(std::uint32_t host_order);

}  // namespace ringlab::mcast
