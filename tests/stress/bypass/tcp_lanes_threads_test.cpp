// bypass::tcp_lanes on real threads (built under TSan by CI, label threads): host A is a 2-queue
// sim_nic with a tcp_lanes lane per queue, each on its own thread (busy_poll, CLOCK_MONOTONIC);
// host B is a one-queue sim_nic with one bypass lane, driven by the test's thread together with both
// NICs' ingest (sim_nic's one producer thread). Both roles at once:
//   passive  B opens 48 connections to A's listener (one acceptor per lane): each is echoed byte for
//            byte and accepted on the lane the reference RSS hash gives its 4-tuple; both lanes serve.
//   active   each lane opens 12 connections to B's echo port from chooser-approved ports.
// No lane ever sees a segment of another lane's connection (no RST, no drop on either lane).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/rss_steering.hpp"
#include "asio_bypass/tcp_lanes.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "tests/unit/asio_bypass/tcp_lanes_apps.hpp"
#include "trace/clock.hpp"

using namespace ringlab;
using namespace ringlab::tcp_lanes_testing;

namespace {

TEST(tcp_lanes_threads, two_lanes_on_two_threads_serve_and_open_connections_on_their_own_lane) {
  constexpr std::uint16_t queues = 2;
  constexpr std::size_t passive = 48, active_per_lane = 12;
  sim::sim_nic na(nic_config("a", queues)), nb(nic_config("b", 1));
  sim::wire link(na, nb, {.latency_ns = 20'000}, {.latency_ns = 20'000});
  auto mono = [] { return stack::time_ns{trace::monotonic_ns()}; };

  // Host B: the test thread's.
  asio::io_context ctx_b{1};
  auto& svc_b = asio::use_service<bypass::bypass_service>(ctx_b);
  ASSERT_FALSE(attach_host_b(svc_b, nb, mono));
  std::size_t accepted_b = 0;
  bacc acc_b(ctx_b, atcp::endpoint(atcp::v4(), echo_port));
  accept_loop(acc_b, accepted_b);

  // Host A: the lanes. Their clients and echo sessions live on their own lanes.
  auto lanes = lanes_of_host_a(na, queues);
  std::vector<std::size_t> served(queues, 0);   // each element written by its own lane only
  ASSERT_FALSE(lanes->listen(atcp::endpoint(atcp::v4(), lanes_port), [&served](std::size_t lane, bsock s) {
    ++served[lane];
    std::make_shared<echo_session>(std::move(s))->go();
  }));
  std::atomic<int> finished_a{0};
  std::vector<std::vector<std::shared_ptr<client>>> mine(queues);
  const atcp::endpoint b_echo(asio::ip::address_v4(b_ip.value), echo_port);
  lanes->for_each_lane([&](std::size_t q, asio::io_context& ctx) {
    for (std::size_t i = 0; i < active_per_lane; ++i) {
      auto c = std::make_shared<client>(ctx, message(q, i));
      c->finished = &finished_a;
      c->go(b_echo);   // before start(): the connect runs on this thread, the rest on the lane's
      mine[q].push_back(std::move(c));
    }
  });

  std::vector<std::shared_ptr<client>> theirs;
  for (std::size_t i = 0; i < passive; ++i) {
    theirs.push_back(std::make_shared<client>(ctx_b, message(99, i)));
    theirs.back()->go(atcp::endpoint(asio::ip::address_v4(a_ip.value), lanes_port));
  }
  lanes->start();

  auto b_done = [&] {
    for (auto& c : theirs)
      if (!c->result) return false;
    return true;
  };
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto turn = [&] { turn_host_b(na, nb, svc_b, ctx_b, mono()); };
  while (!(b_done() && finished_a.load(std::memory_order_acquire) == int(queues * active_per_lane)) &&
         std::chrono::steady_clock::now() < give_up)
    turn();
  // 50 ms more: the last FINs and ACKs.
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
       std::chrono::steady_clock::now() < until;)
    turn();
  lanes->stop();
  lanes->join();   // from here the lanes' state is this thread's to read

  ASSERT_TRUE(b_done()) << "B's connections did not finish in 60 s";
  ASSERT_EQ(finished_a.load(), int(queues * active_per_lane)) << "A's connections did not finish in 60 s";
  std::vector<std::size_t> want(queues, 0);
  for (auto& c : theirs) {
    EXPECT_EQ(*c->result, std::error_code());
    EXPECT_EQ(c->got, c->msg);
    ++want[reference_queue(na.rss().reta(), {a_ip, lanes_port}, c->local)];
  }
  const auto nicc = na.counters();
  for (std::uint16_t q = 0; q < queues; ++q) {
    for (auto& c : mine[q]) {
      EXPECT_EQ(*c->result, std::error_code()) << "lane " << q;
      EXPECT_EQ(c->got, c->msg) << "lane " << q;
      EXPECT_EQ(reference_queue(na.rss().reta(), c->local, {b_ip, echo_port}), q);
    }
    EXPECT_EQ(served[q], want[q]) << "lane " << q;
    EXPECT_GT(served[q], 0u) << "lane " << q << " served nothing";
    const auto& t = lanes->tcp_counters(q);
    EXPECT_EQ(t.active_opens, active_per_lane) << "lane " << q;
    EXPECT_EQ(t.passive_opens, want[q]) << "lane " << q;
    EXPECT_EQ(t.out_rsts, 0u) << "lane " << q;
    EXPECT_EQ(lanes->iface_counters(q).dropped_total(), 0u) << "lane " << q;
    EXPECT_EQ(lanes->iface_counters(q).rx_frames, nicc.queue[q].ipackets) << "lane " << q;
    EXPECT_EQ(t.in_segs, nicc.queue[q].ipackets) << "lane " << q << ": a frame that was not TCP";
  }
  EXPECT_EQ(accepted_b, queues * active_per_lane);
  EXPECT_EQ(svc_b.iface().tcp_counters().out_rsts, 0u);
  // The lanes' sockets go with the lanes (their io_contexts), before the NICs.
  mine.clear();
  lanes.reset();
  theirs.clear();
}

}  // namespace
