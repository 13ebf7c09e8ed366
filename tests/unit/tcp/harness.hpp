#pragma once
// Two tcp::connections joined by a scripted wire on explicit virtual time. Every segment is emitted to
// bytes by wire::tcp (checksum included) and parsed back on the other side, so the engine is tested
// through the real wire format. A test can drop, hold or rewrite segments, and inspects them as
// they pass (`log`).
#include <deque>
#include <map>
#include <span>
#include <stdexcept>
#include <functional>
#include <string>
#include <vector>

#include "stack/tcp/connection.hpp"
#include "stack/wire/tcp.hpp"

namespace ringlab::tcp::testing {

inline const wire::ipv4_addr a_ip{10, 0, 0, 1}, b_ip{10, 0, 0, 2};
// A full segment's payload with the default config: MSS 1460 less the timestamps option (12 bytes).
inline constexpr std::uint32_t mss = 1448;

struct segment {
  bool from_a = true;
  std::vector<std::byte> bytes;   // the whole TCP segment
  stack::time_ns sent_at = 0;
  wire::tcp::repr repr() const {   // payload points into bytes
    return wire::tcp::repr::parse(*wire::tcp::view::check(bytes), from_a ? a_ip : b_ip, from_a ? b_ip : a_ip).value();
  }
  std::string flags() const {
    const auto r = repr();
    std::string s;
    if (r.has(wire::tcp::flag::syn)) s += "S";
    if (r.has(wire::tcp::flag::fin)) s += "F";
    if (r.has(wire::tcp::flag::rst)) s += "R";
    if (r.has(wire::tcp::flag::psh)) s += "P";
    if (r.has(wire::tcp::flag::ack)) s += ".";
    return s;
  }
};

inline std::vector<std::byte> to_bytes(std::string_view s) {
  std::vector<std::byte> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}
inline std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::byte> out(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b = static_cast<std::byte>(x);
  }
  return out;
}

class pair {
 public:
  explicit pair(connection_config ca = {}, connection_config cb = {}) : a(ca, 40000, 80), b(cb, 80, 40000) {}

  connection a, b;
  stack::time_ns now = 0;
  stack::time_ns delay = 10 * stack::ms;   // one-way
  std::multimap<stack::time_ns, segment> in_flight;   // by arrival time; equal times in send order
  std::vector<segment> log;                // everything sent, in order
  // Decides each segment's fate as it is sent: false drops it.
  std::function<bool(const segment&)> pass = [](const segment&) { return true; };
  // Extra one-way delay of a segment (reordering), and how many copies arrive (duplication).
  std::function<stack::time_ns(const segment&)> extra_delay = [](const segment&) { return stack::time_ns{0}; };
  std::function<int(const segment&)> copies = [](const segment&) { return 1; };
  // Damages a segment on the wire (its checksum then fails and the receiver drops it).
  std::function<void(segment&)> damage = [](segment&) {};
  // When set, B's listener: segments for B while B is CLOSED go here instead of to accept() (a test's
  // SYN cookie listener answers through sink_b() and opens `b` itself).
  std::function<void(const wire::tcp::repr&)> listener_b;
  std::uint64_t bad_checksums = 0;   // damaged segments the receiving side refused
  std::uint64_t resets_from_closed = 0;   // segments for a side that had closed, answered with RST

  auto sink_a() {
    return [this](const wire::tcp::repr& r) { put(true, r); };
  }
  auto sink_b() {
    return [this](const wire::tcp::repr& r) { put(false, r); };
  }

  // A connects to B; B accepts the SYN (as a listener would) when it arrives.
  void open(std::uint32_t iss_a = 1000, std::uint32_t iss_b = 5000) {
    a.connect(iss_a, now, sink_a());
    iss_b_ = iss_b;
  }

  // Runs until nothing is in flight and no timer is due before `until`.
  void run(stack::time_ns until) {
    for (;;) {
      const stack::time_ns next_arrival = in_flight.empty() ? stack::never : in_flight.begin()->first;
      const stack::time_ns next_timer = std::min(a.next_deadline(), b.next_deadline());
      const stack::time_ns t = std::min(next_arrival, next_timer);
      if (t == stack::never || t > until) {
        now = std::max(now, until == stack::never ? now : until);
        return;
      }
      now = std::max(now, t);
      if (next_arrival <= next_timer) {
        segment s = std::move(in_flight.begin()->second);
        in_flight.erase(in_flight.begin());
        deliver(s);
      } else {
        if (a.next_deadline() <= now) a.on_timer(now, sink_a());
        if (b.next_deadline() <= now) b.on_timer(now, sink_b());
      }
      if (++steps_ > 10'000'000) throw std::runtime_error("harness: no progress");
    }
  }
  // Runs for `d` more nanoseconds.
  void run_for(stack::time_ns d) { run(now + d); }

  // A sends `up` and B sends `down` as their buffers take them, each reading all it can every 5 ms,
  // until both have everything or the clock reaches `limit`. What each side read, in order.
  struct exchanged {
    std::vector<std::byte> up, down;
  };
  exchanged exchange(std::span<const std::byte> up, std::span<const std::byte> down,
                     stack::time_ns limit = 60 * stack::sec) {
    std::size_t sent_up = 0, sent_down = 0;
    exchanged got;
    while ((got.up.size() < up.size() || got.down.size() < down.size()) && now < limit) {
      sent_up += a.send(up.subspan(sent_up), now, sink_a());
      sent_down += b.send(down.subspan(sent_down), now, sink_b());
      run_for(5 * stack::ms);
      const auto u = drain_b(), d = drain_a();
      got.up.insert(got.up.end(), u.begin(), u.end());
      got.down.insert(got.down.end(), d.begin(), d.end());
    }
    return got;
  }

  // Every byte B received so far (reading it), and the same for A.
  std::vector<std::byte> drain_b() { return drain(b, false); }
  std::vector<std::byte> drain_a() { return drain(a, true); }

  std::vector<segment> sent_by(bool from_a) const {
    std::vector<segment> v;
    for (const auto& s : log)
      if (s.from_a == from_a) v.push_back(s);
    return v;
  }

 private:
  void put(bool from_a, const wire::tcp::repr& r) {
    segment s;
    s.from_a = from_a;
    s.sent_at = now;
    s.bytes.resize(r.buffer_len());
    if (r.emit(s.bytes, from_a ? a_ip : b_ip, from_a ? b_ip : a_ip) != s.bytes.size())
      throw std::runtime_error("harness: a segment did not emit");
    log.push_back(s);
    if (!pass(s)) return;
    const stack::time_ns at = now + delay + extra_delay(s);
    damage(s);
    for (int k = copies(s); k > 0; --k) in_flight.emplace(at, s);
  }
  void deliver(const segment& s) {
    const auto v = wire::tcp::view::check(s.bytes);
    const auto r = wire::tcp::repr::parse(*v, s.from_a ? a_ip : b_ip, s.from_a ? b_ip : a_ip);
    if (!r && r.error_code() == wire::error::bad_checksum) return void(++bad_checksums);   // as a stack drops it
    if (!r) throw std::runtime_error("harness: a segment did not parse back");
    if (s.from_a && listener_b && b.current() == state::closed) return listener_b(*r);
    connection& to = s.from_a ? b : a;
    const bool syn_for_b = s.from_a && r->has(wire::tcp::flag::syn) && !r->has(wire::tcp::flag::ack) && !accepted_;
    if (to.closed() && !syn_for_b) return reset_from_closed(!s.from_a, *r);
    if (!s.from_a) return void(to.on_segment(*r, now, sink_a()));
    if (b.current() == state::closed && r->has(wire::tcp::flag::syn) && !r->has(wire::tcp::flag::ack) && !accepted_) {
      accepted_ = true;
      return b.accept(*r, iss_b_, now, sink_b());
    }
    b.on_segment(*r, now, sink_b());
  }
  // What a host answers for a connection it no longer has (RFC 9293 3.10.7.1, CLOSED): a RST.
  void reset_from_closed(bool from_a, const wire::tcp::repr& r) {
    if (r.has(wire::tcp::flag::rst)) return;
    ++resets_from_closed;
    wire::tcp::repr rst;
    rst.src_port = r.dst_port;
    rst.dst_port = r.src_port;
    if (r.has(wire::tcp::flag::ack)) {
      rst.seq = r.ack;
      rst.flags = wire::tcp::flag::rst;
    } else {
      rst.ack = r.seq + r.segment_len();
      rst.flags = wire::tcp::flag::rst | wire::tcp::flag::ack;
    }
    put(from_a, rst);
  }
  std::vector<std::byte> drain(connection& c, bool is_a) {
    std::vector<std::byte> out;
    std::vector<std::byte> buf(65536);
    for (std::size_t n; (n = is_a ? c.receive(buf, now, sink_a()) : c.receive(buf, now, sink_b())) > 0;)
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
  }

  std::uint32_t iss_b_ = 5000;
  bool accepted_ = false;
  std::uint64_t steps_ = 0;
};

}  // namespace ringlab::tcp::testing
