// Two rules of what an ACK may count, each checked against what Linux does (review of the engine,
// session 8): after an RTO, bytes the peer SACKed before count once, not again when the hole fills;
// and an ACK that covers any retransmitted segment gives no RTT sample from the records (Karn).
#include <gtest/gtest.h>

#include "tests/unit/tcp/harness.hpp"

namespace ringlab::tcp {
namespace {

using namespace testing;
using stack::ms;
using stack::sec;

// After an RTO the scoreboard is cleared, RACK's SACKed marks stay. The ACK that fills the hole
// acknowledges everything the peer held; slow start must count only what it newly delivered (one
// segment: cwnd 1 -> 2), as Linux's tcp_clean_rtx_queue skips SACKed skbs. Counting every byte took
// cwnd from one segment to ssthresh + 1 in that one ACK (a line-rate burst right after an RTO).
TEST(TcpAfterRto, the_ack_that_fills_the_hole_grows_cwnd_by_what_it_newly_delivered) {
  connection_config c;
  c.congestion = congestion_control::newreno;
  pair p(c, {});
  p.open();
  p.run_for(1 * sec);
  const std::uint32_t first = p.a.snd_nxt();
  int drops = 0;   // the original of segment 1 and RACK's resend of it: only the RTO's gets through
  p.pass = [&](const segment& s) {
    return !(s.from_a && !s.repr().payload.empty() && s.repr().seq == first && drops < 2 && ++drops);
  };
  const auto data = pattern(10 * mss, 11);
  ASSERT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
  std::uint32_t cwnd_at_fill = 0, ssthresh_at_fill = 0;
  for (int i = 0; i < 3000 && !cwnd_at_fill; ++i) {
    p.run_for(1 * ms);
    if (p.a.snd_una() == first + 10 * mss) cwnd_at_fill = p.a.cwnd(), ssthresh_at_fill = p.a.ssthresh();
  }
  EXPECT_EQ(p.drain_b(), data);
  EXPECT_EQ(drops, 2);
  EXPECT_EQ(p.a.counters().timeouts, 1u);
  ASSERT_GT(ssthresh_at_fill, 2 * mss);   // else slow start would stop at ssthresh and hide the rule
  EXPECT_EQ(cwnd_at_fill, 2 * mss);
}

// Segment 1 reaches B but B's ACK of it is lost; segment 2 is lost and the tail-loss probe resends it.
// B's ACK of both then covers a retransmitted segment: the time since segment 1 went out includes the
// probe timeout, and Linux takes no sample from it (FLAG_RETRANS_DATA_ACKED; with timestamps off
// nothing else gives one). srtt must not move.
TEST(TcpKarn, an_ack_that_covers_a_retransmitted_segment_gives_no_rtt_sample) {
  connection_config c;
  c.timestamps = false;
  pair p(c, c);
  p.open();
  p.run_for(1 * sec);
  const auto warm = pattern(20 * mss, 3);
  ASSERT_EQ(p.exchange(warm, {}).up, warm);
  p.run_for(1 * sec);
  ASSERT_FALSE(p.a.timestamps_on());
  const std::uint32_t base = p.a.snd_nxt(), full = mss + 12;   // no timestamps option: MSS 1460
  int lost = 0, acks_lost = 0;
  p.pass = [&](const segment& s) {
    const auto r = s.repr();
    if (s.from_a && r.seq == base + full && !r.payload.empty() && lost == 0) return !++lost;   // segment 2
    if (!s.from_a && r.ack == base + full && r.payload.empty()) return !++acks_lost;         // B's ACK of 1
    return true;
  };
  const stack::time_ns srtt_before = p.a.srtt();
  const auto data = pattern(2 * full, 4);
  ASSERT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
  for (int i = 0; i < 2000 && p.a.snd_una() != base + 2 * full; ++i) p.run_for(1 * ms);
  ASSERT_EQ(p.a.snd_una(), base + 2 * full);
  EXPECT_EQ(p.drain_b(), data);
  EXPECT_EQ(lost, 1);
  EXPECT_GE(acks_lost, 1);
  EXPECT_EQ(p.a.counters().loss_probes, 1u);
  EXPECT_EQ(p.a.counters().timeouts, 0u);   // the probe repaired it, not the RTO
  EXPECT_EQ(p.a.srtt(), srtt_before);
}

}  // namespace
}  // namespace ringlab::tcp
