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
