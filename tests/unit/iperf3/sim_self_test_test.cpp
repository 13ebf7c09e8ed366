// `ringlab iperf3-server --backend sim --self-test`'s run (tools/iperf3/sim_self_test.hpp): our iperf3
// protocol client against the server over two simulated hosts (sim_nic, the user-space stack on both
// ends), virtual time. Exact: the server's count per stream is what the client sent and what it read
// in the results JSON, with iperf3's stream ids; the control messages each side saw, in order.
#include <gtest/gtest.h>

#include "tools/iperf3/sim_self_test.hpp"

using namespace ringlab::iperf3;

namespace {

using S = state;
const std::vector<state> client_sees{S::param_exchange, S::create_streams, S::test_start, S::test_running,
                                     S::exchange_results, S::display_results};
const std::vector<state> server_sees{S::test_end, S::iperf_done};

TEST(iperf3_sim_self_test, two_streams_the_server_counts_every_byte_sent) {
  self_test_options o;
  o.parallel = 2;
  o.len = 8192;
  o.bytes_per_stream = 1'000'000;
  const auto r = sim_self_test(o);
  ASSERT_EQ(r.error, "");
  ASSERT_TRUE(r.server);
  EXPECT_TRUE(r.server->completed);
  EXPECT_EQ(r.server->bytes, 2'000'000u);
  EXPECT_EQ(r.server->received, server_sees);
  EXPECT_EQ(r.client.received, client_sees);
  EXPECT_EQ(r.client.bytes, (std::vector<std::uint64_t>{1'000'000, 1'000'000}));
  ASSERT_TRUE(r.client_saw);
  ASSERT_EQ(r.client_saw->size(), 2u);
  EXPECT_EQ((*r.client_saw)[0].id, 1);
  EXPECT_EQ((*r.client_saw)[0].bytes, 1'000'000u);
  EXPECT_EQ((*r.client_saw)[1].id, 3);
  EXPECT_EQ((*r.client_saw)[1].bytes, 1'000'000u);
  EXPECT_EQ(r.server->peer.substr(0, 9), "10.0.0.1:");
}

TEST(iperf3_sim_self_test, reverse_the_client_reads_the_servers_count) {
  self_test_options o;
  o.reverse = true;
  o.parallel = 2;
  o.bytes_per_stream = 500'000;
  const auto r = sim_self_test(o);
  ASSERT_EQ(r.error, "");
  ASSERT_TRUE(r.server);
  EXPECT_TRUE(r.server->params.reverse);
  ASSERT_TRUE(r.client_saw);
  ASSERT_EQ(r.client_saw->size(), 2u);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*r.client_saw)[i].bytes, r.server->streams[i].bytes);
    EXPECT_GE(r.client.bytes[i], 500'000u);
    EXPECT_LE(r.client.bytes[i], r.server->streams[i].bytes);
    sum += r.server->streams[i].bytes;
  }
  EXPECT_EQ(r.server->bytes, sum);
}

}  // namespace

// --lanes 2: host B is two lanes (sim_nic's 2 queues), a server on each, one test_registry. The
// control connection and the 4 data connections land where RSS puts them; sim_self_test checks each
// stream's lane against sim_nic's Toeplitz + RETA for its 4-tuple; here the exact counts per stream
// and per lane, and that both lanes served streams (with the seeded ports, 2 and 2).
struct iperf3_sim_lanes : ::testing::TestWithParam<bool> {};

TEST_P(iperf3_sim_lanes, four_streams_on_two_lanes_both_ends_agree) {
  self_test_options o;
  o.reverse = GetParam();
  o.parallel = 4;
  o.len = 8192;
  o.bytes_per_stream = 300'000;
  o.lanes = 2;
  const auto r = sim_self_test(o);
  ASSERT_EQ(r.error, "");
  ASSERT_TRUE(r.server);
  EXPECT_TRUE(r.server->completed);
  EXPECT_EQ(r.server->received, server_sees);
  EXPECT_EQ(r.client.received, client_sees);
  ASSERT_EQ(r.server->stream_lanes.size(), 4u);
  ASSERT_TRUE(r.client_saw);
  ASSERT_EQ(r.client_saw->size(), 4u);
  const std::vector<int> ids{1, 3, 4, 5};
  std::uint64_t sum = 0;
  std::vector<std::uint64_t> per_lane(2, 0);
  std::vector<int> streams_on(2, 0);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*r.client_saw)[i].id, ids[i]);
    EXPECT_EQ(r.server->streams[i].id, ids[i]);
    EXPECT_EQ((*r.client_saw)[i].bytes, r.server->streams[i].bytes) << "stream " << ids[i];
    if (o.reverse) {
      EXPECT_GE(r.client.bytes[i], 300'000u);
      EXPECT_LE(r.client.bytes[i], r.server->streams[i].bytes);
      EXPECT_GE(r.server->streams[i].retransmits, 0);   // the sending lane's stack's RetransSegs, read
    } else {
      EXPECT_EQ(r.server->streams[i].bytes, 300'000u) << "stream " << ids[i];
      EXPECT_EQ(r.client.bytes[i], 300'000u);
      EXPECT_EQ(r.server->streams[i].retransmits, -1);
    }
    const std::size_t q = r.server->stream_lanes[i];
    ASSERT_LT(q, 2u);
    per_lane[q] += r.server->streams[i].bytes;
    ++streams_on[q];
    sum += r.server->streams[i].bytes;
  }
  EXPECT_EQ(r.server->bytes, sum);
  EXPECT_EQ(r.lane_bytes, per_lane);   // sim_self_test's per-lane sums (each stream on the lane RSS gives)
  EXPECT_EQ(streams_on, (std::vector<int>{2, 2})) << "the seeded client ports hash 2 and 2";
  if (!o.reverse) {
    EXPECT_EQ(per_lane, (std::vector<std::uint64_t>{600'000, 600'000}));
  }
}

INSTANTIATE_TEST_SUITE_P(directions, iperf3_sim_lanes, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? std::string("reverse") : std::string("receive"); });
