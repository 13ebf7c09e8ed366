#pragma once
// A UDP socket on one stack::interface: non-blocking, completion-driven, zero-copy on receive.
// It reaches the interface only through its udp_host (socket table, ip_output, igmp_host and the
// frame_releaser, by reference): no friend either way.
//
// Receive: the interface's rx_pipeline hands a matching datagram to the socket as {frame, source, payload span};
// nothing is copied. While its queue is empty the socket offers it to its reader hook first
// (set_reader: an Asio socket with a receive waiting takes it there, never queued); else it is queued. The queue is bounded
// (queue_depth); a datagram that finds it full is dropped as socket_queue_full. A reader then
// either copies (try_receive_from: copy into the user's buffer, release the frame at once) or
// borrows (try_receive_frame: a move-only lent_frame that releases the frame when it ends).
//
// Send: send_to builds the whole frame in a pool frame from the port's tx_reserve: the payload is
// copied once into place and the UDP, IPv4 and Ethernet headers are emitted in front of it.
//
// Threading: a socket lives on its interface's thread (share-nothing, one interface per RX queue).
// Errors are std::error_code values (std::errc), the ones asio::ip::udp::socket reports:
//   would_block (nothing queued), address_in_use, address_not_available, not_connected,
//   message_size (payload over the MTU: no fragmentation on send), network_unreachable (no route),
//   no_buffer_space (no TX frame, or the ARP pending queue is full), bad_file_descriptor (closed).
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <span>
#include <system_error>
#include <vector>

#include "trace/trace.hpp"
#include "stack/iface/time.hpp"
#include "stack/socket/endpoint.hpp"
#include "stack/socket/lent_frame.hpp"
#include "stack/socket/udp_host.hpp"

namespace ringlab::stack {

class interface;

struct udp_socket_counters {
  std::uint64_t received = 0;          // datagrams queued
  std::uint64_t queue_full = 0;        // dropped: the queue was full (drop_reason::socket_queue_full)
  std::uint64_t sent = 0;
  std::uint64_t send_errors = 0;
};

class udp_socket {
 public:
  // queue_depth 0: the interface's default (interface_config::socket_queue_depth).
  explicit udp_socket(interface& ifc, std::size_t queue_depth = 0);
  // The same on the parts of a stack directly (the host must outlive the socket).
  explicit udp_socket(udp_host& host, std::size_t queue_depth = 0);
  udp_socket(const udp_socket&) = delete;
  udp_socket& operator=(const udp_socket&) = delete;
  ~udp_socket();

  // Port 0 picks an ephemeral port; address any() receives on every local address.
  std::error_code bind(endpoint local) noexcept;
  // Sets the default destination and receives only from it; binds an ephemeral port first if needed.
  std::error_code connect(endpoint remote) noexcept;
  // Releases every queued frame, leaves every group this socket joined, unbinds. Idempotent.
  void close() noexcept;
  bool is_open() const noexcept { return open_; }

  std::error_code join_group(wire::ipv4_addr group, time_ns now) noexcept;
  std::error_code leave_group(wire::ipv4_addr group, time_ns now) noexcept;

  void set_ttl(std::uint8_t ttl) noexcept { ttl_ = ttl; }
  void set_multicast_ttl(std::uint8_t ttl) noexcept { mcast_ttl_ = ttl; }
  // On (the default, as on Linux): a datagram we send to a group we joined is also delivered here.
  void set_multicast_loop(bool on) noexcept { mcast_loop_ = on; }
  std::uint8_t ttl() const noexcept { return ttl_; }
  std::uint8_t multicast_ttl() const noexcept { return mcast_ttl_; }
  bool multicast_loop() const noexcept { return mcast_loop_; }

  std::error_code send_to(std::span<const std::byte> payload, endpoint destination, time_ns now) noexcept;
  std::error_code send(std::span<const std::byte> payload, time_ns now) noexcept;   // connected

  // Copies the next datagram into buf (cut to buf's size, as recvfrom does; `truncated` says so) and
  // releases its frame. would_block when the queue is empty.
  struct received {
    std::size_t bytes = 0;            // copied
    std::size_t datagram_size = 0;    // the whole payload
    endpoint source;
    bool truncated = false;
  };
  received try_receive_from(std::span<std::byte> buf, std::error_code& ec) noexcept;
  // Lends the next datagram's frame; an empty lent_frame and would_block when the queue is empty.
  lent_frame try_receive_frame(std::error_code& ec) noexcept;

  // The next datagram in place (nullptr when the queue is empty), and dropping it: pop_front() gives
  // its frame back. For readers that copy straight out of the queue slot (the Asio layer).
  const datagram* front() const noexcept { return count_ ? &queue_[head_] : nullptr; }
  void pop_front() noexcept;
  // Lends a datagram this socket offered its reader (set_reader) to whoever keeps it: released through
  // this socket's interface by the one rule (frame_releaser).
  lent_frame lend(const datagram& d) const noexcept { return lent_frame(frames_, d); }

  std::size_t available() const noexcept { return count_; }
  std::size_t next_size() const noexcept { return count_ ? queue_[head_].payload.size() : 0; }
  std::size_t queue_depth() const noexcept { return queue_.size(); }

  // The one reader hook between this socket and whoever reads it (the Asio layer): a datagram that
  // arrives while the queue is empty is offered to it first, inside interface::poll (or inside send_to
  // for a looped multicast), and it says what it did: declined (queue it as usual), copied (done with
  // the frame: it goes back with the burst) or kept (it holds the frame now, as the lent_frame that
  // lend(d) makes, and gives it back by the one release rule). While the queue holds datagrams a new one joins them behind the
  // others, never offered: order holds by construction, and a reader drains the queue itself when it
  // next starts (front/pop_front/try_receive_*). The hook may send; it must not call back into the
  // socket's queue or destroy the socket. A plain function and its context (one indirect call,
  // nothing allocated); nullptr turns it off: every datagram is queued.
  enum class taken : std::uint8_t { declined, copied, kept };
  using reader_fn = taken (*)(void* ctx, udp_socket& s, const datagram& d) noexcept;
  void set_reader(reader_fn f, void* ctx) noexcept { reader_ = f, reader_ctx_ = ctx; }

  endpoint local_endpoint() const noexcept { return local_; }
  endpoint remote_endpoint() const noexcept { return remote_; }
  bool bound() const noexcept { return local_.port != 0; }
  bool connected() const noexcept { return remote_.port != 0; }
  const udp_socket_counters& counters() const noexcept { return counters_; }

  // Called by the rx_pipeline for each datagram the socket table matched to this socket. queued /
  // kept: the socket (or its reader) owns the frame from then on; copied: a waiting reader copied the
  // payload, the frame goes back with the burst; full: dropped.
  enum class delivery : std::uint8_t { queued, copied, kept, full };
  delivery deliver(const datagram& d) noexcept;

 private:
  // The `deliver` hop: a reader took the datagram (try_receive_from, try_receive_frame, pop_front).
  // Inline: with tracing off it is one relaxed load and a branch per datagram.
  void hop_taken(const datagram& d, std::source_location loc = std::source_location::current()) const noexcept {
    if (trace::enabled()) [[unlikely]] hop_taken_traced(d, loc);
  }
  void hop_taken_traced(const datagram& d, std::source_location loc) const noexcept;
  // Binds through the socket table, then keeps the endpoint it chose.
  std::error_code bind_local(endpoint local) noexcept;

  udp_host* host_;
  frame_releaser* frames_;                   // host_->frames, one load nearer: readers release per datagram
  bool open_ = true;
  endpoint local_;
  endpoint remote_;
  std::uint8_t ttl_ = 64;
  std::uint8_t mcast_ttl_ = 1;
  bool mcast_loop_ = true;
  std::vector<wire::ipv4_addr> groups_;      // joined through this socket
  std::vector<datagram> queue_;              // a ring: head_ and count_
  std::size_t head_ = 0, count_ = 0;
  reader_fn reader_ = nullptr;
  void* reader_ctx_ = nullptr;
  udp_socket_counters counters_;
};

// Inline: it runs once per datagram inside interface::poll (rx_pipeline), and a call cost more than its body.
inline udp_socket::delivery udp_socket::deliver(const datagram& d) noexcept {
  if (count_ == 0 && reader_) {
    // Offered to the reader first: a waiting one takes it instead of queueing and dequeueing it.
    const taken t = reader_(reader_ctx_, *this, d);
    if (t != taken::declined) {
      ++counters_.received;
      return t == taken::copied ? delivery::copied : delivery::kept;
    }
  }
  if (count_ == queue_.size()) {
    ++counters_.queue_full;
    return delivery::full;
  }
  std::size_t tail = head_ + count_;
  if (tail >= queue_.size()) tail -= queue_.size();
  queue_[tail] = d;
  ++count_;
  ++counters_.received;
  return delivery::queued;
}

}  // namespace ringlab::stack
