// Issue 12.2 / 13.4: congestion control beside loss detection. RFC 7661 cwnd validation as Linux does
// it (cwnd grows only while the sender uses it), PRR (RFC 6937) in recovery. Each test scripts a
// pair of engines on the harness's wire (10 ms one way: a round trip is 20 ms) and asserts the exact
// cwnd or the exact segments per ACK, with the mechanism on and off.
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/tcp/harness.hpp"

namespace ringlab::tcp {
namespace {

using namespace testing;
using stack::ms;
using stack::sec;


// The application writes `per_round` full segments every 40 ms (two round trips: each write's ACKs are
// back before the next), `rounds` times, after a handshake and an optional first bulk of `bulk`
// segments whose first segment the wire drops (a recovery: cwnd then in congestion avoidance).
// Returns A's cwnd before the writes and after them.
std::pair<std::uint32_t, std::uint32_t> app_limited(const connection_config& c, std::uint32_t per_round,
                                                    int rounds, std::uint32_t bulk = 0) {
  pair p(c, {});
  p.open();
  p.run_for(1 * sec);
  bool dropped = false;   // outlives the block: p.pass keeps a reference to it for the writes below
  if (bulk) {
    const auto data = pattern(bulk * mss, 1);
    p.pass = [&](const segment& s) {
      return !(s.from_a && !s.repr().payload.empty() && !dropped && (dropped = true));
    };
    EXPECT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
    p.run_for(2 * sec);
    EXPECT_EQ(p.drain_b(), data);
    EXPECT_EQ(p.a.counters().recoveries, 1u);
    EXPECT_EQ(p.a.counters().timeouts, 0u);
  }
  const std::uint32_t before = p.a.cwnd();
  const auto chunk = pattern(per_round * mss, 2);
  for (int i = 0; i < rounds; ++i) {
    EXPECT_EQ(p.a.send(chunk, p.now, p.sink_a()), chunk.size());
    p.run_for(40 * ms);
    EXPECT_EQ(p.drain_b(), chunk);
  }
  EXPECT_EQ(p.a.unacked(), 0u);
  return {before, p.a.cwnd()};
}

// Slow start (RFC 7661 4.1 as Linux's tcp_is_cwnd_limited): six segments a round trip, IW10. B
// acknowledges every second segment, so three ACKs of two segments per write; cwnd grows by what an
// ACK covers (Linux's tcp_slow_start) only while it is below twice the most in flight (2 x 6):
// 10 -> 12 on the first write's first ACK, then never again. Without validation every ACK grows it:
// 10 + 6 x 10 = 70 segments the sender never used.
TEST(TcpCwndValidation, AnAppLimitedSenderInSlowStartGrowsOnlyToTwiceWhatItSent) {
  for (auto kind : {congestion_control::cubic, congestion_control::newreno}) {
    connection_config c;
    c.congestion = kind;
    EXPECT_EQ(app_limited(c, 6, 10), (std::pair{10 * mss, 12 * mss})) << static_cast<int>(kind);
    c.cwnd_validation = false;
    EXPECT_EQ(app_limited(c, 6, 10), (std::pair{10 * mss, 70 * mss})) << static_cast<int>(kind);
  }
}

// Congestion avoidance: a first bulk of 20 segments loses its first (10 out, limited transmit's two
// more, RACK's recovery), so cwnd leaves slow start; then two segments a round trip for 20 writes,
// never cwnd-limited: cwnd stays exactly where the bulk left it. CUBIC: ssthresh 0.7 x 10 = 7
// segments, grown to 10,986 bytes by the bulk's last ACKs; NewReno: FlightSize / 2 = 6, grown to 7.
// Without validation both grow on the small writes' ACKs: NewReno by one segment per cwnd of bytes
// acknowledged (40 segments: 7 -> 11), CUBIC along its curve (the epoch's clock runs on).
TEST(TcpCwndValidation, AnAppLimitedSenderInAvoidanceKeepsItsCwnd) {
  connection_config c;
  EXPECT_EQ(app_limited(c, 2, 20, 20), (std::pair{10'986u, 10'986u}));
  c.cwnd_validation = false;
  EXPECT_EQ(app_limited(c, 2, 20, 20), (std::pair{10'986u, 14'633u}));
  connection_config r;
  r.congestion = congestion_control::newreno;
  EXPECT_EQ(app_limited(r, 2, 20, 20), (std::pair{7 * mss, 7 * mss}));
  r.cwnd_validation = false;
  EXPECT_EQ(app_limited(r, 2, 20, 20), (std::pair{7 * mss, 11 * mss}));
}

// A recovery's sends, ACK by ACK. A first write of 10 segments grows cwnd to 20 (slow start: five
// ACKs of two segments each, up to twice the flight); then 40 segments are written, 20 go out at t0
// and the first of them is lost. B answers each of the 19 that
// arrive with a duplicate ACK at t0 + 10 ms; the wire spaces those 0.1 ms apart so that each arrives
// alone and what A sends for it shows by its send time. Returns, per ACK arriving from t0 + 20 ms on
// (ACK i at t0 + 20 ms + i x 0.1 ms), the segments (1-based within the write) A sent for it.
std::vector<std::vector<std::uint32_t>> recovery_sends(const connection_config& c, std::uint32_t acks) {
  pair p(c, {});
  p.open();
  p.run_for(1 * sec);
  const auto warm = pattern(10 * mss, 3);
  EXPECT_EQ(p.a.send(warm, p.now, p.sink_a()), warm.size());
  p.run_for(1 * sec);
  EXPECT_EQ(p.drain_b(), warm);
  EXPECT_EQ(p.a.cwnd(), 20 * mss);
  const stack::time_ns t0 = p.now;
  const std::uint32_t first = p.a.snd_nxt();
  bool dropped = false;
  p.pass = [&](const segment& s) { return !(s.from_a && s.sent_at == t0 && !dropped && (dropped = true)); };
  stack::time_ns spacing = 0;
  p.extra_delay = [&](const segment& s) {
    if (s.from_a || s.sent_at != t0 + 10 * ms) return stack::time_ns{0};
    return (spacing += 100'000) - 100'000;
  };
  const auto data = pattern(40 * mss, 4);
  const std::size_t from = p.log.size();
  EXPECT_EQ(p.a.send(data, p.now, p.sink_a()), data.size());
  p.run_for(2 * sec);
  EXPECT_EQ(p.drain_b(), data);
  EXPECT_EQ(p.a.counters().recoveries, 1u);
  EXPECT_EQ(p.a.counters().timeouts, 0u);
  std::vector<std::vector<std::uint32_t>> per_ack(acks);
  for (std::size_t i = from; i < p.log.size(); ++i) {
    const auto r = p.log[i].repr();
    const stack::time_ns at = p.log[i].sent_at - t0 - 20 * ms;
    if (!p.log[i].from_a || r.payload.empty() || p.log[i].sent_at < t0 + 20 * ms || at % 100'000 ||
        at / 100'000 >= acks)
      continue;
    per_ack[at / 100'000].push_back((r.seq - first) / mss + 1);
  }
  return per_ack;
}

using sends = std::vector<std::vector<std::uint32_t>>;

// RFC 6937 with CUBIC: the recovery starts on the third duplicate ACK (ACKs 0 and 1 each sent a new
// segment by limited transmit, 21 and 22) with 22 in flight; ssthresh = 0.7 x 20 = 14 segments
// (20,272 bytes), RecoverFS (prior cwnd) 20 segments; ACK k has delivered k - 1 segments since.
// While the pipe is above ssthresh, PRR lets out ceil(ssthresh x delivered / RecoverFS) less what it
// sent, rounded up to whole segments as Linux's packet count does (DIV_ROUND_UP in
// tcp_cwnd_reduction): the fast retransmit of 1 on ACK 2 (ceil 0.7), then a segment whenever
// ceil(0.7 x (k - 1)) grows: 23, 24 on ACKs 3, 4, 25, 26 on 6, 7, 27, 28 on 9, 10, 29, 30 on 12, 13.
// Rounded to the byte instead (before), each segment waited for a whole one to be owed: one ACK later
// (1, then 23 on ACK 4, 24 and 25 on 6 and 7...). Without PRR cwnd is 14 segments at once: nothing
// from ACK 3 to 7, until the pipe fell below it, then one per ACK: 6 new segments by ACK 13, bunched
// at the end.
TEST(TcpPrr, SegmentsPerAckInACubicRecovery) {
  connection_config c;
  c.prr = true;   // off by default (connection.hpp says why)
  EXPECT_EQ(recovery_sends(c, 14),
            (sends{{21}, {22}, {1}, {23}, {24}, {}, {25}, {26}, {}, {27}, {28}, {}, {29}, {30}}));
  c.prr = false;
  EXPECT_EQ(recovery_sends(c, 14),
            (sends{{21}, {22}, {1}, {}, {}, {}, {}, {}, {23}, {24}, {25}, {26}, {27}, {28}}));
}

// The same with NewReno: ssthresh = FlightSize / 2 = 11 segments (15,928 bytes). PRR: 1 on ACK 2,
// then a new segment whenever ceil(0.55 x (k - 1)) grows: ACKs 3, 5, 7, 9, 11 and 12, nothing on 13.
// Without: cwnd 11 at once, nothing from ACK 3 to 10 (the pipe, 21 - k at ACK k, above it), then one
// per ACK.
TEST(TcpPrr, SegmentsPerAckInANewRenoRecovery) {
  connection_config c;
  c.prr = true;   // off by default (connection.hpp says why)
  c.congestion = congestion_control::newreno;
  EXPECT_EQ(recovery_sends(c, 14),
            (sends{{21}, {22}, {1}, {23}, {}, {24}, {}, {25}, {}, {26}, {}, {27}, {28}, {}}));
  c.prr = false;
  EXPECT_EQ(recovery_sends(c, 14),
            (sends{{21}, {22}, {1}, {}, {}, {}, {}, {}, {}, {}, {}, {23}, {24}, {25}}));
}

}  // namespace
}  // namespace ringlab::tcp
