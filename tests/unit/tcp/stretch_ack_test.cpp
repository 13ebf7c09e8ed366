// What a receiver that acknowledges a whole burst at once (ours: one ACK per rx burst; Linux's: GRO)
// and a busy two-way flow do to the sender's window and its tail-loss probe, and the RACK record table
// when it is full. Each test fails on the code before its fix (the review of the sixth session).
#include <gtest/gtest.h>

#include "stack/tcp/congestion.hpp"
#include "stack/tcp/rack.hpp"
#include "tests/unit/tcp/harness.hpp"

namespace ringlab::tcp {
namespace {

using namespace testing;
using stack::ms;
using stack::sec;


// Slow start counts every byte a stretch ACK covers (Linux's tcp_slow_start), so one ACK per round
// trip still doubles cwnd. Per-ACK growth capped at one SMSS (the old rule) gave 11, 12, 13...
TEST(TcpStretchAck, slow_start_doubles_cwnd_when_each_flight_is_acknowledged_at_once) {
  pair p;
  p.open();
  p.run_for(1 * sec);
  std::vector<segment> held;
  p.pass = [&](const segment& s) {
    if (s.from_a) held.push_back(s);
    return !s.from_a;   // A's segments are handed to B below, one burst per flight
  };
  const auto data = pattern(8u << 20, 1);
  std::size_t sent = 0;
  std::uint32_t expect = 10 * mss;
  ASSERT_EQ(p.a.cwnd(), expect);
  for (int round = 0; round < 5; ++round) {
    sent += p.a.send(std::span(data).subspan(sent), p.now, p.sink_a());
    p.run_for(10 * ms);
    std::vector<segment> flight;
    flight.swap(held);
    ASSERT_EQ(flight.size(), expect / mss) << "round " << round;
    p.b.begin_burst();
    for (const auto& s : flight) p.b.on_segment(s.repr(), p.now, p.sink_b());
    p.b.end_burst(p.now, p.sink_b());
    p.drain_b();
    p.run_for(10 * ms);
    expect *= 2;
    EXPECT_EQ(p.a.cwnd(), expect) << "round " << round;
  }
}

// Congestion avoidance's byte counting adds one SMSS per cwnd of bytes, however many cwnds one ACK
// covers (Linux's tcp_cong_avoid_ai); the rest carries over.
TEST(TcpStretchAck, newreno_avoidance_adds_a_segment_per_window_a_stretch_ack_covers) {
  congestion cc(congestion_control::newreno);
  const std::uint32_t cwnd = 10 * mss;
  EXPECT_EQ(cc.on_ack(cwnd, 35 * mss, mss, 0, 10 * ms), cwnd + 3 * mss);
  EXPECT_EQ(cc.on_ack(cwnd + 3 * mss, 8 * mss, mss, 0, 10 * ms), cwnd + 4 * mss);   // 5 + 8 >= 13
}

// The tail-loss probe restarts only when new data goes out or SND.UNA moves. The peer's own data
// every 5 ms restarted it before, and a two-way flow's lost tail waited for the RTO.
stack::time_ns tail_repaired_after(bool peer_talks) {
  connection_config cb;
  cb.nagle = false;
  pair p({}, cb);
  p.open();
  p.run_for(1 * sec);
  const stack::time_ns t0 = p.now;
  const auto data = pattern(6 * mss, 4);
  const std::uint32_t seg5 = 1001 + 4 * mss;
  p.pass = [&](const segment& s) { return !(s.from_a && s.sent_at == t0 && seq_ge(s.repr().seq, seg5)); };
  const std::size_t from = p.log.size();
  p.a.send(data, p.now, p.sink_a());
  const auto small = pattern(100, 9);
  std::vector<std::byte> got;
  while (p.now < t0 + 2 * sec) {
    if (peer_talks && p.now - t0 < 1 * sec && (p.now - t0) % (5 * ms) == 0) p.b.send(small, p.now, p.sink_b());
    p.run_for(1 * ms);
    p.drain_a();
    const auto b = p.drain_b();
    got.insert(got.end(), b.begin(), b.end());
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(p.a.counters().timeouts, 0u);
  for (std::size_t i = from; i < p.log.size(); ++i)
    if (p.log[i].from_a && p.log[i].sent_at > t0 && !p.log[i].repr().payload.empty()) return p.log[i].sent_at - t0;
  return stack::never;
}

TEST(TcpStretchAck, the_peers_data_does_not_put_off_the_tail_loss_probe) {
  const stack::time_ns quiet = tail_repaired_after(false);
  ASSERT_LT(quiet, 100 * ms);   // 2 SRTT + 2 ms after the send
  EXPECT_EQ(tail_repaired_after(true), quiet);
}

// A full record table merges new data into its newest record: the new bytes are in flight, neither
// SACKed nor lost, whatever that record was marked.
TEST(TcpStretchAck, new_data_merged_into_a_sacked_record_counts_in_the_pipe) {
  rack r;
  std::uint32_t seq = 1000;
  for (std::size_t i = 0; i < rack::capacity; ++i, seq += mss) r.sent(seq, mss, 1000 + static_cast<stack::time_ns>(i));
  const std::uint32_t last = seq - mss;
  r.sacked_by([&](std::uint32_t q) { return seq_ge(q, last) && seq_lt(q, seq); }, [](const rack::record&) {});
  const std::uint32_t pipe = r.pipe();
  ASSERT_EQ(pipe, (rack::capacity - 1) * mss);
  r.sent(seq, mss, 5000);
  EXPECT_EQ(r.size(), rack::capacity);
  EXPECT_EQ(r[r.size() - 1].flags & (rack::sacked | rack::lost), 0);
  EXPECT_EQ(r.pipe(), pipe + 2 * mss);   // the merged record, old and new bytes, is in flight again
}

// With the table full, a lost merged record goes out MSS by MSS, never as one segment of MSS + 1 data
// bytes (the + 1 is for a FIN riding on the last byte only).
TEST(TcpStretchAck, a_merged_record_is_resent_in_segments_of_at_most_one_mss) {
  connection_config big;
  big.send_buffer = big.recv_buffer = 8u << 20;
  pair p(big, big);
  p.open();
  p.run_for(1 * sec);
  // Warm up without loss until cwnd holds the whole flight below, then send that flight in one call.
  const auto warm = pattern(6u << 20, 3);
  const auto got_warm = p.exchange(warm, {});
  ASSERT_EQ(got_warm.up, warm);
  const std::uint32_t flight_segments = static_cast<std::uint32_t>(rack::capacity) + 100;
  ASSERT_GE(p.a.cwnd(), flight_segments * mss);
  const auto data = pattern(flight_segments * mss, 7);
  const std::uint32_t base = p.a.snd_una();
  const stack::time_ns t0 = p.now;
  // Lose the first segment of the merged newest record (records 0 .. capacity - 2 hold one segment
  // each; the last record takes every segment from there on): RACK marks that record lost once the
  // tail-loss probe's resend of the last segment is acknowledged.
  const std::uint32_t first_merged = static_cast<std::uint32_t>(rack::capacity - 1);
  p.pass = [&](const segment& s) {
    return !(s.from_a && s.sent_at == t0 && (s.repr().seq - base) / mss == first_merged);
  };
  ASSERT_EQ(p.a.send(std::span(data).first(flight_segments * mss - 20 * mss), p.now, p.sink_a()),
            flight_segments * mss - 20 * mss);
  // Once the first ACKs freed records, 20 more segments get records of their own; their SACKs are
  // what marks the merged record lost.
  p.run_for(25 * ms);
  ASSERT_EQ(p.a.send(std::span(data).last(20 * mss), p.now, p.sink_a()), 20 * mss);
  std::vector<std::byte> got = p.drain_b();
  while (got.size() < data.size() && p.now < t0 + 10 * sec) {
    p.run_for(5 * ms);
    const auto b = p.drain_b();
    got.insert(got.end(), b.begin(), b.end());
  }
  EXPECT_EQ(got, data);
  std::size_t longest = 0, resent = 0;
  for (const auto& s : p.sent_by(true)) {
    longest = std::max(longest, s.repr().payload.size());
    resent += s.sent_at > t0 && !s.repr().payload.empty();
  }
  EXPECT_EQ(longest, mss);
  EXPECT_GE(resent, 1u);
}

}  // namespace
}  // namespace ringlab::tcp
