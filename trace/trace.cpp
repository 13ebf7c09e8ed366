#include "trace/trace.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <sched.h>

#include "trace/clock.hpp"
#include "trace/repro_log.hpp"

namespace ringlab::trace {

namespace {

struct tagged { std::uint64_t seq; event e; };

// A thread's buffer: fixed-size chunks, so recording never copies what is already recorded (a
// growing vector would move every event at each doubling). Its own mutex is uncontended except
// while drain() runs.
struct buffer {
  static constexpr std::size_t chunk_events = 4096;
  using chunk = std::vector<tagged>;
  std::mutex mu;
  std::vector<chunk> chunks;

  void push(const tagged& t) {
    if (chunks.empty() || chunks.back().size() == chunks.back().capacity()) {
      chunks.emplace_back();
      chunks.back().reserve(chunk_events);
    }
    chunks.back().push_back(t);
  }
};

struct registry {
  std::mutex mu;
  std::vector<std::shared_ptr<buffer>> buffers;   // kept after a thread ends so its events are not lost
  std::atomic<std::uint64_t> seq{0};
};

registry& reg() {
  static registry r;
  return r;
}

buffer& my_buffer() {
  thread_local std::shared_ptr<buffer> b = [] {
    auto nb = std::make_shared<buffer>();
    std::lock_guard lk(reg().mu);
    reg().buffers.push_back(nb);
    return nb;
  }();
  return *b;
}

}  // namespace

// What the command asked for: only then are its events kept for drain(). A repro run keeps tracing
// on from start to exit whatever the command switches, but its events go to the repro log as they
// come (repro_log.hpp), so a command that never drains holds none of them: memory stays flat.
namespace {
std::atomic<bool> user_enabled{false};
}  // namespace

void enable(bool on) noexcept {
  user_enabled.store(on, std::memory_order_relaxed);
  detail::enabled_flag.store(on || detail::repro_active(), std::memory_order_relaxed);
}

void detail::record(const event& e) {
  buffer& b = my_buffer();
  event ev = e;
  // A real clock beside the emitter's own: on sim_nic t_ns is virtual (hops of one frame share it),
  // and `ringlab trace compare` sets the lab's hops beside the kernel's real ones.
  ev.real_ns = monotonic_ns();
  if (ev.cpu == 0) {
    const int c = sched_getcpu();
    ev.cpu = static_cast<std::uint16_t>(c < 0 ? 0 : c);
  }
  const std::uint64_t s = reg().seq.fetch_add(1, std::memory_order_relaxed);
  if (detail::repro_active()) detail::repro_log_event(ev, s);
  if (!user_enabled.load(std::memory_order_relaxed)) return;
  std::lock_guard lk(b.mu);
  b.push({s, ev});
}

std::vector<event> drain() {
  std::vector<tagged> all;
  {
    std::lock_guard lk(reg().mu);
    for (auto& b : reg().buffers) {
      std::lock_guard bl(b->mu);
      for (auto& c : b->chunks) all.insert(all.end(), c.begin(), c.end());
      // The first chunk's room stays: a reader that drains after every round of a replay (trace
      // replay's route stream) would otherwise free and allocate 4096 events' room each round.
      if (!b->chunks.empty()) {
        b->chunks.resize(1);
        b->chunks.front().clear();
      }
    }
  }
  std::sort(all.begin(), all.end(), [](const tagged& a, const tagged& b) {
    return a.e.t_ns != b.e.t_ns ? a.e.t_ns < b.e.t_ns : a.seq < b.seq;
  });
  std::vector<event> out;
  out.reserve(all.size());
  for (auto& t : all) out.push_back(t.e);
  // A drain ends the repro log's ordering window, as it always has: the log's order stays the one
  // drain() hands out (repro_log.hpp).
  if (detail::repro_active()) detail::repro_flush();
  return out;
}

std::uint64_t hash(const std::vector<event>& events) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) { h ^= (v >> (8 * i)) & 0xff; h *= 1099511628211ull; }
  };
  for (const auto& e : events) {
    mix(e.packet_id); mix(e.t_ns); mix(e.ring_slot); mix(e.frame); mix(e.queue);
    mix(static_cast<std::uint64_t>(e.stage) | static_cast<std::uint64_t>(e.v) << 8 |
        static_cast<std::uint64_t>(e.reason) << 16);
  }
  return h;
}

std::string_view to_string(hop h) noexcept {
  static constexpr std::string_view names[] = {
      "nic_rx", "rss", "ring_enqueue", "ring_dequeue", "pool", "fault", "pcap_tap", "port_rx",
      "eth", "arp", "ipv4", "ipv4_reassembly", "icmp", "igmp", "udp", "tcp", "socket_queue",
      "deliver", "release", "tx", "nic_tx", "wire"};
  static_assert(std::size(names) == static_cast<std::size_t>(hop::count_));
  const auto i = static_cast<std::size_t>(h);
  return i < std::size(names) ? names[i] : "?";
}

std::string_view to_string(verdict v) noexcept {
  static constexpr std::string_view names[] = {"pass", "drop", "deliver", "tx"};
  const auto i = static_cast<std::size_t>(v);
  return i < std::size(names) ? names[i] : "?";
}

std::string_view to_string(drop_reason r) noexcept {
  static constexpr std::string_view names[] = {
      "none", "ring_full", "pool_empty", "runt", "oversize", "snap_truncated", "fault_injected",
      "bad_ethertype", "truncated", "bad_ip_version", "bad_ip_header_len", "bad_ip_total_len",
      "bad_ip_checksum", "fragment", "fragment_timeout", "fragment_overflow", "ttl_expired", "not_ours",
      "bad_l4_checksum", "bad_l4_length", "unsupported", "not_joined", "no_socket", "socket_queue_full",
      "arp_unresolved", "tcp_bad_offset", "tcp_bad_options", "tcp_listen_overflow", "tcp_syn_queue_full",
      "tcp_not_syn", "tcp_closed", "tcp_out_of_window", "tcp_paws", "tcp_bad_ack", "tcp_rst_challenged",
      "tcp_syn_challenged", "tcp_no_ack"};
  static_assert(std::size(names) == static_cast<std::size_t>(drop_reason::count_));
  const auto i = static_cast<std::size_t>(r);
  return i < std::size(names) ? names[i] : "?";
}

}  // namespace ringlab::trace
