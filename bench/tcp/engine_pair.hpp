#pragma once
// Two tcp::connections joined by an in-memory wire that loses nothing, for bench_tcp and callgrind_tcp.
// A segment crosses as a repr whose payload the sink copies into a preallocated frame (what any output
// must do: the payload points into the sender's buffer); no bytes are emitted or parsed and no
// checksum is computed, so the figures are the ENGINE's. Time is virtual: `now` moves by `step` per
// round of the bulk loop, so RTT samples, delayed ACKs and timestamps behave as on a fast link.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "stack/tcp/connection.hpp"

namespace ringlab::bench::tcp {

using ringlab::tcp::connection;
using ringlab::tcp::connection_config;
using ringlab::tcp::state;
using stack::time_ns;

// One direction of the wire: a ring of frames, each a repr and its payload's bytes.
class wire_queue {
 public:
  static constexpr std::size_t frames = 4096;   // > a 256 KiB window of 1448-byte segments plus ACKs
  struct frame {
    wire::tcp::repr r;
    std::array<std::byte, 2048> payload;
  };

  wire_queue() : ring_(frames) {}
  bool empty() const noexcept { return head_ == tail_; }
  std::size_t size() const noexcept { return tail_ - head_; }
  const wire::tcp::repr& front() const noexcept { return ring_[head_ % frames].r; }
  void pop() noexcept { ++head_; }
  void clear() noexcept { head_ = tail_ = 0; }
  std::uint64_t pushed() const noexcept { return pushed_; }
  std::uint64_t payload_bytes() const noexcept { return payload_bytes_; }

  // The sink's work, kept out of line so callgrind can name its share.
  [[gnu::noinline]] void push(const wire::tcp::repr& r) noexcept {
    if (tail_ - head_ == frames || r.payload.size() > sizeof(frame::payload)) {
      std::fprintf(stderr, "engine_pair: wire queue overflow (%zu frames, %zu-byte payload)\n", size(), r.payload.size());
      std::abort();
    }
    frame& f = ring_[tail_++ % frames];
    f.r = r;
    std::memcpy(f.payload.data(), r.payload.data(), r.payload.size());
    f.r.payload = {f.payload.data(), r.payload.size()};
    ++pushed_;
    payload_bytes_ += r.payload.size();
  }

 private:
  std::vector<frame> ring_;
  std::size_t head_ = 0, tail_ = 0;
  std::uint64_t pushed_ = 0, payload_bytes_ = 0;
};

// a (port 40000) connects to b (port 80).
class engine_pair {
 public:
  explicit engine_pair(const connection_config& cfg = {}) : cfg_(cfg) {}

  std::optional<connection> a, b;
  wire_queue ab, ba;   // a -> b, b -> a
  time_ns now = 0;
  time_ns step = 10'000;   // virtual time per round of the bulk loop: 10 us

  auto sink_a() noexcept {
    return [this](const wire::tcp::repr& r) { ab.push(r); };
  }
  auto sink_b() noexcept {
    return [this](const wire::tcp::repr& r) { ba.push(r); };
  }

  // Constructs both connections and runs the three-way handshake; false if they did not establish.
  bool open(std::uint32_t iss_a = 1000, std::uint32_t iss_b = 5000) {
    a.emplace(cfg_, 40000, 80);
    b.emplace(cfg_, 80, 40000);
    ab.clear();
    ba.clear();
    a->connect(iss_a, now, sink_a());
    if (ab.empty()) return false;
    b->accept(ab.front(), iss_b, now, sink_b());   // as a listener would, for the SYN
    ab.pop();
    deliver_ba();
    deliver_ab();
    return a->current() == state::established && b->current() == state::established;
  }
  // Closes both ways (a first): a ends in TIME_WAIT, b in CLOSED. false if they did not.
  bool close() {
    a->close(now, sink_a());
    deliver_ab();
    deliver_ba();
    b->close(now, sink_b());
    deliver_ab();
    deliver_ba();
    deliver_ab();
    return a->current() == state::time_wait && b->current() == state::closed;
  }

  // Every segment in flight one way reaches its connection (which may answer the other way).
  void deliver_ab() {
    auto out = sink_b();
    for (; !ab.empty(); ab.pop()) b->on_segment(ab.front(), now, out);
  }
  void deliver_ba() {
    auto out = sink_a();
    for (; !ba.empty(); ba.pop()) a->on_segment(ba.front(), now, out);
  }
  // Timers due at `now` (delayed ACKs on this fast virtual link).
  void timers() {
    if (a->next_deadline() <= now) a->on_timer(now, sink_a());
    if (b->next_deadline() <= now) b->on_timer(now, sink_b());
  }
  // Reads everything b has into buf (overwritten each time); returns the bytes read.
  std::size_t read_b(std::span<std::byte> buf) {
    std::size_t total = 0;
    auto out = sink_b();
    for (std::size_t n; (n = b->receive(buf, now, out)) > 0;) total += n;
    return total;
  }

  // Runs with no new data until everything sent was delivered, read and acknowledged (delayed ACKs
  // fire on the way); false if that did not happen.
  bool settle(std::span<std::byte> app_buf) {
    for (int i = 0; i < 1000; ++i) {
      deliver_ab();
      read_b(app_buf);
      deliver_ba();
      if (ab.empty() && ba.empty() && a->unacked() == 0 && b->readable() == 0) return true;
      now += 50 * stack::ms;
      timers();
    }
    return false;
  }

  // One round of a bulk transfer a -> b: a queues what fits of `data`, b takes the segments and the
  // application reads them, a takes the ACKs. Returns the bytes b's application read.
  std::size_t bulk_round(std::span<const std::byte> data, std::span<std::byte> app_buf) {
    a->send(data, now, sink_a());
    deliver_ab();
    const std::size_t got = read_b(app_buf);
    deliver_ba();
    now += step;
    timers();
    return got;
  }

 private:
  connection_config cfg_;
};

}  // namespace ringlab::bench::tcp
