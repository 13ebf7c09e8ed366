// Issue 13 point 4: loss recovery beside RFC 6675 — RFC 3042 limited transmit and RACK-TLP (RFC 8985:
// time-based loss marking with a reordering window, tail-loss probes). Each test scripts the losses on
// the harness's wire (10 ms one way, so a round trip is 20 ms) and asserts which segments went out
// when; a contrast run with the mechanism off shows what it changed.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <tuple>
#include <vector>

#include "stack/tcp/seq.hpp"
#include "tests/unit/tcp/harness.hpp"

namespace ringlab::tcp {
namespace {

using namespace testing;
using stack::ms;
using stack::sec;

constexpr std::uint32_t seg_seq(std::uint32_t k) { return 1001 + (k - 1) * mss; }   // k: 1, 2, ...

struct sent_data {
  std::uint32_t seq;
  stack::time_ns at;   // after t0
  bool operator==(const sent_data&) const = default;
};
std::ostream& operator<<(std::ostream& os, const sent_data& d) {
  return os << "{seg " << (d.seq - 1001) / mss + 1 << " at " << d.at / ms << " ms}";
}
// A's data segments from log index `from` on.
std::vector<sent_data> a_data(const pair& p, std::size_t from, stack::time_ns t0) {
  std::vector<sent_data> v;
  for (std::size_t i = from; i < p.log.size(); ++i) {
    const auto r = p.log[i].repr();
    if (p.log[i].from_a && !r.payload.empty()) v.push_back({r.seq, p.log[i].sent_at - t0});
  }
  return v;
}
std::vector<stack::time_ns> times_of(const std::vector<sent_data>& v, std::uint32_t seq) {
  std::vector<stack::time_ns> t;
  for (const auto& d : v)
    if (d.seq == seq) t.push_back(d.at);
  return t;
}

// One run of the scripted losses: A sends `segments` full segments at t0 (1 s after the handshake)
// over the harness's wire, which drops A's segments `drop` names (t0 given); runs until B has every
// byte (at most 5 s) and 1 s more, and checks B read the bytes exact and A has nothing unacknowledged.
struct run_result {
  std::vector<sent_data> sent;   // A's data segments from t0 on
  connection_counters a;
  stack::time_ns complete = 0;   // when B had the last byte, after t0 (0: not within 5 s)
};
run_result run_with(const connection_config& c, std::uint32_t segments, std::uint32_t seed,
                    std::function<bool(const segment&, stack::time_ns t0)> drop) {
  pair p(c, {});
  p.open();
  p.run_for(1 * sec);
  const stack::time_ns t0 = p.now;
  const auto data = pattern(segments * mss, seed);
  p.pass = [&](const segment& s) { return !(s.from_a && drop(s, t0)); };
  const std::size_t from = p.log.size();
  EXPECT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
  run_result r;
  while (!r.complete && p.now < t0 + 5 * sec) {
    p.run_for(1 * ms);
    if (p.b.rcv_nxt() == seg_seq(segments + 1)) r.complete = p.now - t0;
  }
  p.run_for(1 * sec);
  EXPECT_EQ(p.drain_b(), data);
  EXPECT_EQ(p.a.unacked(), 0u);
  r.sent = a_data(p, from, t0);
  r.a = p.a.counters();
  return r;
}

// RFC 3042: the first two duplicate ACKs each let one new segment out, past cwnd. Fourteen segments
// queued, cwnd 10: the first is lost. At 20 ms the ACK of nothing new and B's duplicate ACKs (one
// per segment 2..10, each SACKing what B holds) arrive together; limited transmit sends 11 and 12 on
// the first two, the third starts recovery (RACK: three segments SACKed, reo_wnd 0) and resends 1.
TEST(TcpLossRecovery, LimitedTransmitSendsNewDataOnTheFirstTwoDuplicateAcks) {
  auto run = [](bool limited) {
    connection_config c;
    c.limited_transmit = limited;
    const auto r = run_with(c, 14, 3, [dropped = false](const segment& s, stack::time_ns) mutable {
      return !dropped && s.repr().seq == seg_seq(1) && (dropped = true);
    });
    EXPECT_EQ(r.a.timeouts, 0u);
    EXPECT_EQ(r.a.retrans_segs, 1u);
    auto v = r.sent;
    v.erase(v.begin(), v.begin() + 10);   // the initial window at 0 ms
    return v;
  };
  const auto with = run(true), without = run(false);
  ASSERT_GE(with.size(), 3u);
  EXPECT_EQ(with[0], (sent_data{seg_seq(11), 20 * ms}));
  EXPECT_EQ(with[1], (sent_data{seg_seq(12), 20 * ms}));
  EXPECT_EQ(with[2], (sent_data{seg_seq(1), 20 * ms}));
  ASSERT_GE(without.size(), 1u);
  EXPECT_EQ(without[0], (sent_data{seg_seq(1), 20 * ms}));   // nothing new before the retransmission
}

// RFC 8985 7: the last two of ten segments (all the data) are lost, so no duplicate ACK comes. B's
// ACK of 1..8 is back at 20 ms; the probe timeout is 2 SRTT + 2 ms = 42 ms later, and the probe is
// the last segment again (there is no new data). B SACKs it at 72 ms; at 82 ms RACK marks 9 lost
// (sent before the delivered probe, more than RACK.rtt + reo_wnd ago) and resends it: B has all at
// 92 ms. Without RACK-TLP the tail waits for the RTO.
TEST(TcpLossRecovery, TailLossIsRepairedByTheProbeWithoutRto) {
  auto run = [](bool rack_tlp) {
    connection_config c;
    c.rack_tlp = rack_tlp;
    return run_with(c, 10, 4, [lose = std::set<std::uint32_t>{seg_seq(9), seg_seq(10)}](
                                  const segment& s, stack::time_ns t0) mutable {
      return s.sent_at == t0 && lose.erase(s.repr().seq);
    });
  };
  const auto on = run(true);
  EXPECT_EQ(std::vector<sent_data>(on.sent.begin() + 10, on.sent.end()),
            (std::vector<sent_data>{{seg_seq(10), 62 * ms}, {seg_seq(9), 82 * ms}}));
  EXPECT_EQ(on.complete, 92 * ms);
  EXPECT_EQ(on.a.loss_probes, 1u);
  EXPECT_EQ(on.a.loss_probe_recovery, 1u);   // the probe's ACK echoes 9's resend, not an older original
  EXPECT_EQ(on.a.timeouts, 0u);
  EXPECT_EQ(on.a.retrans_segs, 2u);
  EXPECT_EQ(on.a.recoveries, 1u);
  const auto off = run(false);
  EXPECT_EQ(off.a.loss_probes, 0u);
  EXPECT_GE(off.a.timeouts, 1u);
  EXPECT_GE(off.complete, 200 * ms);   // the RTO's minimum
}

// RFC 8985 6.2: a lost retransmission. Segment 3 is lost and so is its first resend (20 ms, the third
// duplicate ACK); segments sent after that resend are SACKed at 40 ms, so RACK marks the resend lost
// then (it went out before them, RACK.rtt ago) and sends 3 a third time. RFC 6675 alone never marks a
// hole lost twice (HighRxt has passed it): only the RTO repairs it.
TEST(TcpLossRecovery, RackFindsALostRetransmission) {
  auto run = [](bool rack_tlp) {
    connection_config c;
    c.rack_tlp = rack_tlp;
    int drops = 0;
    const auto r = run_with(c, 40, 5, [&drops](const segment& s, stack::time_ns) {
      return drops < 2 && s.repr().seq == seg_seq(3) && ++drops;
    });
    EXPECT_EQ(drops, 2);
    return std::pair{times_of(r.sent, seg_seq(3)), r.a};
  };
  const auto [t_on, on] = run(true);
  EXPECT_EQ(t_on, (std::vector<stack::time_ns>{0, 20 * ms, 40 * ms}));
  EXPECT_EQ(on.timeouts, 0u);
  EXPECT_EQ(on.recoveries, 1u);
  const auto [t_off, off] = run(false);
  ASSERT_EQ(t_off.size(), 3u);
  EXPECT_GE(t_off[2], 20 * ms + 200 * ms);   // the RTO, at least rto_min after the lost resend
  EXPECT_GE(off.timeouts, 1u);
}

// RFC 8985 6.2 steps 3-5: reordering inside the reordering window is not loss. Four segments; the
// third is held `late` on the wire, so B SACKs the fourth first (one duplicate ACK, at 20 ms).
// reo_wnd is min_RTT / 4 = 5 ms: RACK waits (the reorder timer, 25 ms). Held 3 ms, segment 3 is
// acknowledged at 23 ms: nothing resent, no recovery, and the reordering is counted. Held 8 ms, the
// timer fires first and 3 goes out again at 25 ms.
TEST(TcpLossRecovery, ReorderingWithinTheWindowIsNotMarkedLost) {
  auto run = [](stack::time_ns late) {
    pair p;
    p.open();
    p.run_for(1 * sec);
    const stack::time_ns t0 = p.now;
    const auto data = pattern(4 * mss, 6);
    p.extra_delay = [&](const segment& s) {
      return s.from_a && s.sent_at == t0 && s.repr().seq == seg_seq(3) ? late : stack::time_ns{0};
    };
    const std::size_t from = p.log.size();
    EXPECT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
    p.run_for(2 * sec);
    EXPECT_EQ(p.drain_b(), data);
    EXPECT_EQ(p.a.counters().timeouts, 0u);
    auto v = a_data(p, from, t0);
    v.erase(v.begin(), v.begin() + 4);
    return std::pair{v, p.a.counters()};
  };
  const auto [inside, c_in] = run(3 * ms);
  EXPECT_TRUE(inside.empty()) << inside.front();
  EXPECT_EQ(c_in.retrans_segs, 0u);
  EXPECT_EQ(c_in.recoveries, 0u);
  EXPECT_EQ(c_in.sack_reorder, 1u);
  const auto [outside, c_out] = run(8 * ms);
  EXPECT_EQ(outside, (std::vector<sent_data>{{seg_seq(3), 25 * ms}}));
  EXPECT_EQ(c_out.recoveries, 1u);
}

// RFC 2883 receiver side. `dup` names A's segments (1-based in a write of `n` at t0) the wire
// delivers twice, `lose` the ones it drops once. Returns B's ACKs that carried SACK blocks, as their
// blocks in segment numbers ({first, last} inclusive; 0.5 steps never occur: whole segments), and
// the counters of both ends.
struct dsack_run {
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> acks;
  connection_counters a, b;
};
dsack_run dsack_script(bool dsack, std::uint32_t n, std::set<std::uint32_t> dup, std::set<std::uint32_t> lose) {
  connection_config c;
  c.dsack = dsack;
  pair p(c, c);
  p.open();
  p.run_for(1 * sec);
  const stack::time_ns t0 = p.now;
  auto seg_no = [](const segment& s) { return (s.repr().seq - 1001) / mss + 1; };
  p.copies = [&](const segment& s) { return s.from_a && s.sent_at == t0 && dup.count(seg_no(s)) ? 2 : 1; };
  p.pass = [&](const segment& s) { return !(s.from_a && s.sent_at == t0 && lose.erase(seg_no(s))); };
  const std::size_t from = p.log.size();
  const auto data = pattern(n * mss, 8);
  EXPECT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
  p.run_for(2 * sec);
  EXPECT_EQ(p.drain_b(), data);
  dsack_run r;
  for (std::size_t i = from; i < p.log.size(); ++i) {
    const auto x = p.log[i].repr();
    if (p.log[i].from_a || x.opts.sack_count == 0) continue;
    auto& blocks = r.acks.emplace_back();
    for (const auto& b : x.opts.sack_blocks()) blocks.emplace_back((b.left - 1001) / mss + 1, (b.right - 1001) / mss);
  }
  r.a = p.a.counters();
  r.b = p.b.counters();
  return r;
}

using blocks = std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>>;

// A duplicate of what B already took (RFC 2883 4.1.1): segment 1 arrives twice; the copy is below
// RCV.NXT and B's immediate ACK reports it as the only block; A counts it as TCPDSACKRecv. Without
// DSACK the copy gets a bare duplicate ACK.
TEST(TcpDsack, ADuplicateBelowRcvNxtIsTheFirstBlock) {
  const auto on = dsack_script(true, 2, {1}, {});
  EXPECT_EQ(on.acks, (blocks{{{1, 1}}}));
  EXPECT_EQ(on.b.dsack_old_sent, 1u);
  EXPECT_EQ(on.b.dsack_ofo_sent, 0u);
  EXPECT_EQ(on.a.dsack_recv, 1u);
  EXPECT_EQ(on.a.dsack_ofo_recv, 0u);
  const auto off = dsack_script(false, 2, {1}, {});
  EXPECT_EQ(off.acks, blocks{});
  EXPECT_EQ(off.a.dsack_recv, 0u);
}

// An out-of-order duplicate (RFC 2883 4.1.2): 1 is lost, 3 arrives twice. The ACKs for 2 and 3 SACK
// 2..2 and 2..3; the copy of 3 is reported first, then the range holding it; A counts
// TCPDSACKOfoRecv. The ACK for 4 SACKs 2..4 as usual.
TEST(TcpDsack, AnOutOfOrderDuplicateComesFirstThenTheRangeHoldingIt) {
  const auto on = dsack_script(true, 4, {3}, {1});
  ASSERT_GE(on.acks.size(), 4u);
  EXPECT_EQ((blocks{on.acks.begin(), on.acks.begin() + 4}),
            (blocks{{{2, 2}}, {{2, 3}}, {{3, 3}, {2, 3}}, {{2, 4}}}));
  EXPECT_EQ(on.b.dsack_ofo_sent, 1u);
  EXPECT_EQ(on.b.dsack_old_sent, 0u);
  EXPECT_EQ(on.a.dsack_ofo_recv, 1u);
  EXPECT_EQ(on.a.dsack_recv, 0u);
  const auto off = dsack_script(false, 4, {3}, {1});
  ASSERT_GE(off.acks.size(), 4u);
  EXPECT_EQ((blocks{off.acks.begin(), off.acks.begin() + 4}), (blocks{{{2, 2}}, {{2, 3}}, {{2, 3}}, {{2, 4}}}));
  EXPECT_EQ(off.a.dsack_ofo_recv, 0u);
}

// RFC 8985 6.2 step 4: reo_wnd grows from DSACK. Two writes of four segments, 1 s apart, each with
// segment 3 held 8 ms on the wire. The first time reo_wnd is min_RTT / 4 = 5 ms: the reorder timer
// resends 3 at 25 ms, spuriously; the resend reaches B after the original and B's DSACK tells A
// (TCPDSACKRecv): reo_wnd_mult 2, reo_wnd 10 ms. The second time the original's ACK (28 ms) beats the
// timer (30 ms): nothing resent. Without DSACK the second write is resent at 25 ms again.
TEST(TcpDsack, ADsackGrowsRacksReorderingWindow) {
  auto run = [](bool dsack) {
    connection_config c;
    c.dsack = dsack;
    pair p(c, c);
    p.open();
    p.run_for(1 * sec);
    std::vector<std::vector<sent_data>> resent;
    for (int w = 0; w < 2; ++w) {
      const stack::time_ns t0 = p.now;
      const std::uint32_t base = p.a.snd_nxt();
      const auto data = pattern(4 * mss, 9 + w);
      p.extra_delay = [&](const segment& s) {
        return s.from_a && s.sent_at == t0 && s.repr().seq == base + 2 * mss ? 8 * ms : stack::time_ns{0};
      };
      const std::size_t from = p.log.size();
      EXPECT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
      p.run_for(1 * sec);
      EXPECT_EQ(p.drain_b(), data);
      std::vector<sent_data> v;
      for (std::size_t i = from; i < p.log.size(); ++i) {
        const auto r = p.log[i].repr();
        if (p.log[i].from_a && !r.payload.empty() && p.log[i].sent_at > t0)
          v.push_back({1001 + (r.seq - base), p.log[i].sent_at - t0});
      }
      resent.push_back(v);
    }
    return std::tuple{resent, p.a.counters(), p.a.rack_state().reo_wnd_mult()};
  };
  const auto [on, c_on, mult_on] = run(true);
  EXPECT_EQ(on[0], (std::vector<sent_data>{{seg_seq(3), 25 * ms}}));
  EXPECT_EQ(on[1], std::vector<sent_data>{});
  EXPECT_EQ(c_on.dsack_recv, 1u);
  EXPECT_EQ(mult_on, 2u);
  const auto [off, c_off, mult_off] = run(false);
  EXPECT_EQ(off[0], (std::vector<sent_data>{{seg_seq(3), 25 * ms}}));
  EXPECT_EQ(off[1], (std::vector<sent_data>{{seg_seq(3), 25 * ms}}));
  EXPECT_EQ(c_off.dsack_recv, 0u);
  EXPECT_EQ(mult_off, 1u);
}

// The records live in a chunk of the buffers' pool only while data is in flight: none once all is
// acknowledged, none after the connection closed (an idle connection holds no heap: memory_test).
TEST(TcpLossRecovery, RackRecordsOnlyWhileDataIsInFlight) {
  pair p;
  p.open();
  p.run_for(1 * sec);
  const auto data = pattern(5 * mss, 7);
  ASSERT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
  EXPECT_EQ(p.a.rack_state().size(), 5u);   // one per segment
  EXPECT_EQ(p.a.rack_state()[0].begin, seg_seq(1));
  EXPECT_EQ(p.a.rack_state()[4].end, seg_seq(6));
  p.run_for(1 * sec);
  EXPECT_EQ(p.drain_b(), data);
  EXPECT_TRUE(p.a.rack_state().empty());
  EXPECT_EQ(p.a.rack_state().min_rtt(), 20 * ms);
}

}  // namespace
}  // namespace ringlab::tcp

namespace ringlab::tcp {
namespace {

// RTT on a sub-millisecond path (trial13: `rtt:0.002775` on sim's 0.2 ms round trip). The timestamp
// echo ticks in ms, so its samples here would all be 0 and pull SRTT toward nothing; RACK's records
// give each ACK's sample at the clock's resolution. The wire: 100 us each way, so every sample is
// exactly 200 us (two full segments per send: B acknowledges at once, no delayed-ACK wait).
TEST(TcpRtt, SamplesComeFromSendTimesNotTheMillisecondTimestampClock) {
  pair p;
  p.delay = 100'000;
  p.open();
  p.run_for(1 * sec);
  ASSERT_EQ(p.a.current(), state::established);
  const auto data = testing::pattern(2 * mss, 5);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
    p.run_for(10 * ms);
    ASSERT_EQ(p.drain_b().size(), data.size());
  }
  EXPECT_EQ(p.a.srtt(), 200'000);   // ns
  // With RACK off nothing but the echo and the one timed segment give samples: the echo's 0 ms
  // samples drag SRTT far below the true 200 us (what the trial saw).
  connection_config off;
  off.rack_tlp = false;
  pair q(off, {});
  q.delay = 100'000;
  q.open();
  q.run_for(1 * sec);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(q.a.send(data, q.now, q.sink_a()), data.size());
    q.run_for(10 * ms);
    ASSERT_EQ(q.drain_b().size(), data.size());
  }
  EXPECT_LT(q.a.srtt(), 50'000);
}

}  // namespace
}  // namespace ringlab::tcp
