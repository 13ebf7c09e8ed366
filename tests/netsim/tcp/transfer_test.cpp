// Two TCP engines moving bytes both ways over a bad wire on virtual time: loss 0-20 %, reordering,
// duplication, corruption (caught by the checksum), each case with its seed listed. Every byte must
// arrive exactly, in order, and both sides must close cleanly; the recovery counters must show the
// repairs. The default suite moves 2 MB each way per case; RINGLAB_TCP_SOAK_MB=100 (label slow, `ctest
// -L slow -R tcp_transfer_full`) moves 100 MB.
#include <gtest/gtest.h>

#include <ostream>

#include <cstdlib>
#include <string>

#include "port/fault_line.hpp"
#include "tests/unit/tcp/harness.hpp"

namespace ringlab::tcp {
namespace {

using namespace testing;
using stack::ms;
using stack::sec;

struct wire_case {
  const char* name;
  double loss, reorder, duplicate, corrupt;
  std::uint64_t seed;
  congestion_control cc = congestion_control::cubic;
  bool sack = true;
};
// gtest prints a parameter into the ctest name: the cell's name, not its bytes (which hold addresses).
inline void PrintTo(const wire_case& c, std::ostream* os) { *os << c.name; }

std::size_t megabytes() {
  const char* e = std::getenv("RINGLAB_TCP_SOAK_MB");
  return e ? std::strtoull(e, nullptr, 10) : 2;
}

class tcp_transfer : public ::testing::TestWithParam<wire_case> {};

TEST_P(tcp_transfer, every_byte_arrives_exactly_both_ways_and_both_close) {
  const wire_case& w = GetParam();
  connection_config cfg;
  cfg.congestion = w.cc;
  cfg.sack = w.sack;
  cfg.data_retries = 30;   // 20 % loss both ways: a segment may need many tries
  pair p(cfg, cfg);
  port::rng rng(w.seed);
  p.pass = [&](const segment&) { return rng.uniform() >= w.loss; };
  p.extra_delay = [&](const segment&) { return rng.uniform() < w.reorder ? static_cast<stack::time_ns>(rng.below(15)) * ms : 0; };
  p.copies = [&](const segment&) { return rng.uniform() < w.duplicate ? 2 : 1; };
  p.damage = [&](segment& s) {
    if (rng.uniform() < w.corrupt) s.bytes[rng.below(s.bytes.size())] ^= std::byte{0x40};
  };
  p.open(0xfffff000u, 0x7ffffff0u);
  p.run_for(1 * sec);
  // Loss of the SYN or SYN-ACK: the retries get through eventually.
  for (int i = 0; i < 60 && p.a.current() != state::established; ++i) p.run_for(1 * sec);
  ASSERT_EQ(p.a.current(), state::established);

  const std::size_t n = megabytes() << 20;
  const auto up = pattern(n, static_cast<std::uint32_t>(w.seed)), down = pattern(n / 2 + 7, static_cast<std::uint32_t>(w.seed) + 1);
  std::size_t sent_up = 0, sent_down = 0, got_up = 0, got_down = 0;
  std::vector<std::byte> buf(1 << 16);
  bool mismatch = false;
  stack::time_ns last_progress = p.now;
  std::size_t last_total = 0;
  while (got_up < up.size() || got_down < down.size()) {
    sent_up += p.a.send(std::span(up).subspan(sent_up), p.now, p.sink_a());
    sent_down += p.b.send(std::span(down).subspan(sent_down), p.now, p.sink_b());
    if (sent_up == up.size()) p.a.close(p.now, p.sink_a());
    if (sent_down == down.size()) p.b.close(p.now, p.sink_b());
    p.run_for(2 * ms);
    for (std::size_t k; (k = p.b.receive(buf, p.now, p.sink_b())) > 0; got_up += k)
      mismatch |= std::memcmp(buf.data(), up.data() + got_up, k) != 0;
    for (std::size_t k; (k = p.a.receive(buf, p.now, p.sink_a())) > 0; got_down += k)
      mismatch |= std::memcmp(buf.data(), down.data() + got_down, k) != 0;
    auto where = [&] {
      return std::string("A ") + to_string(p.a.current()) + " una " + std::to_string(p.a.snd_una()) + " nxt " +
             std::to_string(p.a.snd_nxt()) + " rcv_nxt " + std::to_string(p.a.rcv_nxt()) + " rto " +
             std::to_string(p.a.rto() / ms) + " ms; B " + to_string(p.b.current()) + " una " +
             std::to_string(p.b.snd_una()) + " nxt " + std::to_string(p.b.snd_nxt()) + " rcv_nxt " +
             std::to_string(p.b.rcv_nxt()) + "; up " + std::to_string(got_up) + "/" + std::to_string(up.size()) +
             " down " + std::to_string(got_down) + "/" + std::to_string(down.size());
    };
    ASSERT_FALSE(p.a.closed() && got_down < down.size()) << "A closed early: " << to_string(p.a.reason()) << ": " << where();
    ASSERT_FALSE(p.b.closed() && got_up < up.size()) << "B closed early: " << to_string(p.b.reason()) << ": " << where();
    if (got_up + got_down != last_total) last_total = got_up + got_down, last_progress = p.now;
    // No byte for 20 minutes of virtual time: RTO backoff tops out at 2 minutes, so this is a stall.
    ASSERT_LT(p.now - last_progress, 1200 * sec) << "no progress: " << where();
  }
  EXPECT_FALSE(mismatch);
  EXPECT_EQ(got_up, up.size());
  EXPECT_EQ(got_down, down.size());
  // FINs repaired (backed-off RTOs reach 2 minutes under heavy loss) and TIME_WAIT over.
  for (int i = 0; i < 180 && !(p.a.closed() && p.b.closed()); ++i) p.run_for(10 * sec);
  EXPECT_TRUE(p.a.peer_closed());
  EXPECT_TRUE(p.b.peer_closed());
  EXPECT_EQ(p.a.current(), state::closed) << to_string(p.a.current());
  EXPECT_EQ(p.b.current(), state::closed) << to_string(p.b.current());
  EXPECT_EQ(p.a.reason(), close_reason::none);
  EXPECT_EQ(p.b.reason(), close_reason::none);
  const auto& ca = p.a.counters();
  if (w.loss == 0 && w.reorder == 0 && w.corrupt == 0) {
    EXPECT_EQ(ca.retrans_segs, 0u);
    EXPECT_EQ(p.b.counters().retrans_segs, 0u);
  } else if (w.loss > 0 || w.corrupt > 0) {
    EXPECT_GT(ca.retrans_segs, 0u);
    EXPECT_GT(ca.recoveries + ca.timeouts, 0u);
  }
  if (w.corrupt > 0) {
    EXPECT_GT(p.bad_checksums, 0u);
  }
  if (w.duplicate > 0) {
    EXPECT_GT(p.b.counters().out_of_window + p.b.counters().dup_acks_in, 0u);
  }
  RecordProperty("virtual_seconds", std::to_string(p.now / sec));
  RecordProperty("retrans_segs", std::to_string(ca.retrans_segs));
  RecordProperty("timeouts", std::to_string(ca.timeouts));
  RecordProperty("recoveries", std::to_string(ca.recoveries));
  RecordProperty("srtt_ms", std::to_string(p.a.srtt() / ms));
}

INSTANTIATE_TEST_SUITE_P(
    grid, tcp_transfer,
    ::testing::Values(wire_case{"clean", 0, 0, 0, 0, 1}, wire_case{"loss1", 0.01, 0, 0, 0, 2},
                      wire_case{"loss5", 0.05, 0, 0, 0, 3}, wire_case{"loss20", 0.20, 0, 0, 0, 4},
                      wire_case{"loss5_newreno_nosack", 0.05, 0, 0, 0, 5, congestion_control::newreno, false},
                      wire_case{"reorder", 0, 0.10, 0, 0, 6}, wire_case{"duplicate", 0, 0, 0.05, 0, 7},
                      wire_case{"corrupt", 0, 0, 0, 0.02, 8}, wire_case{"everything", 0.03, 0.05, 0.02, 0.01, 9}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ringlab::tcp
