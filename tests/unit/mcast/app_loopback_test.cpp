// app.hpp's sender and receiver over real kernel UDP sockets on 127.0.0.1 (unicast: the templates do
// not care), on an AsioService with two loop threads: every line arrives once, in order, with its
// number; async_send() from another thread returns before the datagram is sent.
#include <gtest/gtest.h>

#include <asio/ip/udp.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "asio_bypass/asio_service.hpp"
#include "asio_bypass/kernel_context.hpp"
#include "tools/mcast/app.hpp"

using namespace std::chrono_literals;
using ringlab::bypass::AsioService;
using udp = asio::ip::udp;

TEST(mcast_app, sender_and_receiver_over_loopback_on_two_threads) {
  auto svc = AsioService::create({.threads = 2});
  auto& ctx = ringlab::kernel::epoll::context(*svc);
  udp::socket rx_sock(ctx, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  udp::socket tx_sock(ctx, udp::v4());
  ringlab::mcast::receiver<udp::socket> rx(rx_sock, ringlab::mcast::sequence_tracker(0));
  ringlab::mcast::sender<udp::socket> tx(tx_sock, rx_sock.local_endpoint());

  constexpr int n = 200;
  std::mutex mu;
  std::vector<std::string> got;
  std::vector<std::uint64_t> seqs;
  rx.start(
      [&](const ringlab::mcast::message& m) {
        std::lock_guard lk(mu);
        got.emplace_back(m.payload);
        seqs.push_back(m.header.seq);
        if (got.size() == n) {
          svc->stop();
          return false;
        }
        return true;
      },
      [&](std::string_view e) { ADD_FAILURE() << e; svc->stop(); });
  svc->start();
  std::vector<std::string> sent;
  for (int i = 0; i < n; ++i) {
    sent.push_back("line " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 7), '.'));
    tx.async_send(sent.back());
  }
  bool finished = false;
  tx.async_finish([&] { finished = true; });
  ASSERT_TRUE(svc->wait_for(20s)) << "only " << got.size() << " of " << n << " arrived";
  svc->join();
  EXPECT_TRUE(finished);
  EXPECT_EQ(got, sent);
  for (int i = 0; i < n; ++i) ASSERT_EQ(seqs[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(i));
  const auto ts = tx.stats();
  EXPECT_EQ(ts.queued, static_cast<std::uint64_t>(n));
  EXPECT_EQ(ts.sent, static_cast<std::uint64_t>(n));
  EXPECT_EQ(ts.errors, 0u);
  std::uint64_t payload = 0;
  for (const auto& s : sent) payload += s.size();
  EXPECT_EQ(ts.payload_bytes, payload);
  EXPECT_EQ(ts.bytes, payload + n * ringlab::mcast::header_size);
  const auto rs = rx.stats();
  EXPECT_EQ(rs.seq.received, static_cast<std::uint64_t>(n));
  EXPECT_EQ(rs.seq.lost, 0u);
  EXPECT_EQ(rs.seq.reordered, 0u);
  EXPECT_EQ(rs.seq.duplicates, 0u);
  EXPECT_EQ(rs.malformed_total(), 0u);
}

TEST(mcast_app, malformed_datagrams_are_counted_by_reason_and_skipped) {
  auto svc = AsioService::create({.threads = 1});
  auto& ctx = ringlab::kernel::epoll::context(*svc);
  udp::socket rx_sock(ctx, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  udp::socket raw(ctx, udp::v4());
  udp::socket tx_sock(ctx, udp::v4());
  ringlab::mcast::receiver<udp::socket> rx(rx_sock, ringlab::mcast::sequence_tracker(0));
  ringlab::mcast::sender<udp::socket> tx(tx_sock, rx_sock.local_endpoint());
  // Sent before the loop runs, so they are queued in the socket ahead of the good one.
  raw.send_to(asio::buffer("short", 5), rx_sock.local_endpoint());
  raw.send_to(asio::buffer(std::string(30, 'z')), rx_sock.local_endpoint());
  std::string payload;
  rx.start([&](const ringlab::mcast::message& m) { payload = m.payload; svc->stop(); return false; }, {});
  svc->start();
  tx.async_send("good");
  ASSERT_TRUE(svc->wait_for(10s));
  svc->join();
  EXPECT_EQ(payload, "good");
  const auto rs = rx.stats();
  EXPECT_EQ(rs.malformed[static_cast<std::size_t>(ringlab::mcast::datagram_error::too_short)], 1u);
  EXPECT_EQ(rs.malformed[static_cast<std::size_t>(ringlab::mcast::datagram_error::bad_magic)], 1u);
  EXPECT_EQ(rs.seq.received, 1u);
}
