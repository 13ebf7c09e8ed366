// sim_feed's fresh numbers: the looped trace is renumbered as sim_nic copies it, with UDP checksums
// that still verify, and the benchmark's receiver sees every datagram in order across loops.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "bench/bypass_udp/sim_feed.hpp"
#include "stack/wire/udp.hpp"
#include "tools/mcast/app.hpp"

namespace {

using namespace ringlab;

std::uint64_t seq_of(const sim::pcap_trace& t, std::size_t i) {
  const auto u = bench::mcast_udp(t.bytes(t.records()[i]));
  return u ? wire::load_be64(u->payload().data() + 8) : ~std::uint64_t{0};   // the mcast header's seq
}

bool udp_checksum_ok(const sim::pcap_trace& t, std::size_t i) {
  const auto e = wire::ethernet::view::check(t.bytes(t.records()[i]));
  if (!e) return false;
  const auto ip = wire::ipv4::view::check(e->payload());
  if (!ip) return false;
  const auto u = wire::udp::view::check(ip->payload());
  return u && u->checksum() != 0 && u->verify_checksum(ip->src(), ip->dst());
}

TEST(SimFeedFreshNumbers, EachCopiedRecordMovesOnOneTraceLengthWithItsChecksumPatched) {
  auto t = bench::make_feed_trace();
  const std::size_t n = t.records().size();
  ASSERT_EQ(n, 4096u);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(seq_of(t, i), i);
  bench::fresh_numbers f(t);
  f.advance(n + 5);   // one whole loop, then the first 5 records of the next
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(seq_of(t, i), i + (i < 5 ? 2 : 1) * n) << "record " << i;
    EXPECT_TRUE(udp_checksum_ok(t, i)) << "record " << i;
  }
}

TEST(SimFeedFreshNumbers, RefusesATraceNotNumberedOnceEach) {
  auto t = bench::make_feed_trace();
  bench::fresh_numbers f(t);
  f.advance(1);   // record 0 now carries 4096: the trace holds 1..4096, no longer 0..4095
  EXPECT_THROW(bench::fresh_numbers{t}, std::runtime_error);
}

// Three loops of the trace through the whole lane (sim_nic with software checksums, stack, bypass
// socket, mcast::receiver): every datagram in order, none lost or repeated.
TEST(SimFeedFreshNumbers, TheReceiverSeesEveryNumberOnceInOrderAcrossLoops) {
  for (const bool offload : {false, true}) {
    bench::sim_feed feed({.rx_csum_offload = offload});
    mcast::receiver<bypass::udp::socket> app(*feed.sock, mcast::sequence_tracker::from_first_received());
    std::uint64_t got = 0, in_order = 0;
    app.start([&](const mcast::message& m) {
      ++got;
      in_order += m.verdict == mcast::sequence_tracker::verdict::in_order;
      return true;
    }, [](std::string_view) {});
    feed.svc.start();
    for (std::uint64_t idle = 0; got < 3 * 4096 && idle < 100'000;) {   // ends when nothing more arrives
      const auto before = got;
      feed.ctx.run_one();
      idle = got == before ? idle + 1 : 0;
    }
    feed.svc.stop();
    const auto s = app.stats().seq;
    EXPECT_GE(got, 3u * 4096) << "offload " << offload;
    EXPECT_EQ(in_order, got) << "offload " << offload;
    EXPECT_EQ(s.duplicates + s.stale + s.lost, 0u) << "offload " << offload;
    EXPECT_EQ(*s.first, 0u);
    EXPECT_EQ(*s.highest, got - 1);
  }
}

}  // namespace
