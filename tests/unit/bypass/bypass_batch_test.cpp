// bypass::udp::socket::async_receive_batch: up to N datagrams per operation, copied into the caller's
// slots, one handler invocation per batch. Exact payloads and sources in arrival order across batches,
// a partial batch, truncation to the slot's buffer, a batch filled from one poll of the poll handler
// (busy_poll) without the stack queue, cancel/close/cancellation slot -> operation_aborted, and every
// frame back in the pool afterwards (pool balance zero).
#include <gtest/gtest.h>

#include <array>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <functional>
#include <string>
#include <vector>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/unit/bypass/test_lane.hpp"
#include "tests/unit/stack/test_port.hpp"

using namespace ringlab;
using namespace ringlab::stack::testing;
using audp = asio::ip::udp;

namespace {

// Datagram i comes from 10.0.1.(i+1):(7000+i) and carries "d<i>".
wire::ipv4_addr src_ip(int i) { return wire::ipv4_addr{10, 0, 1, static_cast<std::uint8_t>(i + 1)}; }
std::uint16_t src_port(int i) { return static_cast<std::uint16_t>(7000 + i); }
std::string payload(int i) { return std::string("d").append(std::to_string(i)); }   // not "d" + string: GCC 12 -O3 -Wrestrict
audp::endpoint source(int i) { return {asio::ip::make_address_v4(src_ip(i).value), src_port(i)}; }

// Slots with their own buffers.
template <std::size_t N, std::size_t Size = 64>
struct slots {
  std::array<std::array<char, Size>, N> bufs{};
  std::array<bypass::udp::receive_slot, N> s{};
  slots() {
    for (std::size_t i = 0; i < N; ++i) s[i].buffer = asio::buffer(bufs[i]);
  }
  std::span<bypass::udp::receive_slot> span(std::size_t n = N) { return {s.data(), n}; }
  std::string text(std::size_t i) const { return {bufs[i].data(), s[i].bytes}; }
};

struct bypass_batch : ::testing::Test {
  asio::io_context ctx{1};
  test_port port;
  bypass::bypass_service* svc = nullptr;

  void SetUp() override {
    svc = &asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config c = test_lane(bypass::drive_mode::manual);
    c.clock = [] { return stack::time_ns{1'000'000}; };
    ASSERT_FALSE(svc->attach(port, c));
  }
  void drain() {
    ctx.restart();
    ctx.poll();
  }
  void inject(int i, std::uint16_t dport = 9000) {
    ASSERT_TRUE(port.inject(udp(src_ip(i), me_ip, src_port(i), dport, text(payload(i)))));
  }
};

TEST_F(bypass_batch, queued_datagrams_come_in_order_across_batches_and_the_last_is_partial) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  for (int i = 0; i < 7; ++i) inject(i);
  svc->poll_once();
  ASSERT_EQ(s.native().available(), 7u);
  slots<3> sl;
  std::vector<std::size_t> sizes;
  std::vector<std::string> got;
  std::vector<audp::endpoint> from;
  std::function<void()> next = [&] {
    s.async_receive_batch(sl.span(), [&](std::error_code ec, std::size_t n) {
      ASSERT_FALSE(ec) << ec.message();
      sizes.push_back(n);
      for (std::size_t i = 0; i < n; ++i) got.push_back(sl.text(i)), from.push_back(sl.s[i].source);
      if (got.size() < 7) next();
    });
  };
  next();
  EXPECT_TRUE(sizes.empty()) << "tried at once, but the handler is posted";
  EXPECT_EQ(s.queued_ops(), 0u);
  drain();
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 1}));   // the last batch is partial
  ASSERT_EQ(got.size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(got[i], payload(i));
    EXPECT_EQ(from[i], source(i));
  }
  EXPECT_EQ(s.native().available(), 0u);
  EXPECT_EQ(port.pool().out(), 0u) << "every frame back in the pool";
}

TEST_F(bypass_batch, a_waiting_batch_outside_the_poll_handler_completes_with_the_first_datagram) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  slots<8> sl;
  std::vector<std::size_t> sizes;
  std::vector<std::string> got;
  std::function<void()> next = [&] {
    s.async_receive_batch(sl.span(), [&](std::error_code ec, std::size_t n) {
      ASSERT_FALSE(ec) << ec.message();
      sizes.push_back(n);
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(sl.s[i].source, source(static_cast<int>(got.size())));
        got.push_back(sl.text(i));
      }
      if (got.size() < 5) next();
    });
  };
  next();
  EXPECT_EQ(s.queued_ops(), 1u);
  for (int i = 0; i < 5; ++i) inject(i);
  svc->poll_once();   // manual drive: the waiting batch takes the first, the other four are queued
  EXPECT_TRUE(sizes.empty()) << "a handler never runs inside poll";
  EXPECT_EQ(s.native().available(), 4u);
  drain();
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 4}));
  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(got[i], payload(i));
  EXPECT_EQ(port.pool().out(), 0u);
}

TEST_F(bypass_batch, payloads_are_cut_to_the_slot_buffer_like_recvfrom) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  ASSERT_TRUE(port.inject(udp(peer_ip, me_ip, 7000, 9000, text("0123456789"))));
  ASSERT_TRUE(port.inject(udp(peer_ip, me_ip, 7000, 9000, text("ab"))));
  svc->poll_once();
  slots<2, 4> sl;
  std::size_t got = 0;
  s.async_receive_batch(sl.span(), [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got = n;
  });
  drain();
  ASSERT_EQ(got, 2u);
  EXPECT_EQ(sl.text(0), "0123");
  EXPECT_EQ(sl.text(1), "ab");
  EXPECT_EQ(port.pool().out(), 0u);
}

TEST_F(bypass_batch, an_empty_batch_completes_at_once_with_zero) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  inject(0);
  svc->poll_once();
  int calls = 0;
  s.async_receive_batch({}, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    EXPECT_EQ(n, 0u);
    ++calls;
  });
  drain();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.native().available(), 1u) << "nothing was taken";
}

TEST_F(bypass_batch, close_cancel_and_the_slot_abort_a_pending_batch) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  slots<4> sl;
  std::vector<std::pair<std::error_code, std::size_t>> res;
  auto h = [&](std::error_code ec, std::size_t n) { res.emplace_back(ec, n); };
  s.async_receive_batch(sl.span(), h);
  s.cancel();
  EXPECT_TRUE(res.empty()) << "aborted handlers are posted";
  drain();
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].first, asio::error::operation_aborted);
  EXPECT_EQ(res[0].second, 0u);

  asio::cancellation_signal sig;
  s.async_receive_batch(sl.span(), asio::bind_cancellation_slot(sig.slot(), h));
  EXPECT_EQ(s.queued_ops(), 1u);
  sig.emit(asio::cancellation_type::terminal);
  EXPECT_EQ(s.queued_ops(), 0u);
  drain();
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[1].first, asio::error::operation_aborted);

  s.async_receive_batch(sl.span(), h);
  s.close();
  drain();
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[2].first, asio::error::operation_aborted);
  EXPECT_EQ(res[2].second, 0u);
  EXPECT_FALSE(s.is_open());
  // On a closed socket: bad_descriptor, as async_receive_from.
  s.async_receive_batch(sl.span(), h);
  drain();
  ASSERT_EQ(res.size(), 4u);
  EXPECT_EQ(res[3].first, asio::error::bad_descriptor);
  inject(0);
  svc->poll_once();   // no socket any more: dropped, frame back
  EXPECT_EQ(port.pool().out(), 0u);
}

TEST_F(bypass_batch, close_with_queued_datagrams_returns_every_frame) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  slots<2> sl;
  std::vector<std::size_t> sizes;
  std::error_code last;
  // Five queued: a batch of two and a batch of one are performed at once, then close() gives the two
  // still queued back to the pool and a later batch gets bad_descriptor.
  for (int i = 0; i < 5; ++i) inject(i);
  svc->poll_once();
  s.async_receive_batch(sl.span(), [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    sizes.push_back(n);
  });
  drain();
  EXPECT_EQ(port.pool().out(), 3u) << "three datagrams still queued in the socket";
  slots<1> one;
  s.async_receive_batch(one.span(), [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    sizes.push_back(n);
  });
  drain();
  EXPECT_EQ(one.text(0), payload(2));
  s.close();
  EXPECT_EQ(port.pool().out(), 0u) << "close released the two still queued";
  s.async_receive_batch(sl.span(), [&](std::error_code ec, std::size_t) { last = ec; });
  drain();
  EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 1}));
  EXPECT_EQ(last, asio::error::bad_descriptor);
}

TEST_F(bypass_batch, shutdown_destroys_a_pending_batch_without_invoking_it) {
  auto token = std::make_shared<int>(0);
  bool invoked = false;
  {
    asio::io_context ctx2;
    test_port port2;
    auto& svc2 = asio::use_service<bypass::bypass_service>(ctx2);
    bypass::lane_config c = test_lane(bypass::drive_mode::manual);
    ASSERT_FALSE(svc2.attach(port2, c));
    auto s = std::make_unique<bypass::udp::socket>(ctx2, audp::endpoint(audp::v4(), 9000));
    slots<4> sl;
    s->async_receive_batch(sl.span(), [&, token](std::error_code, std::size_t) { invoked = true; });
    EXPECT_EQ(token.use_count(), 2);
    ctx2.stop();
    svc2.shutdown_for_test();
    EXPECT_EQ(token.use_count(), 1) << "shutdown freed the queued handler";
    s.reset();
  }
  EXPECT_FALSE(invoked);
}

TEST_F(bypass_batch, use_future_completes_with_the_count) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  slots<4> sl;
  std::future<std::size_t> f = s.async_receive_batch(sl.span(), asio::use_future);
  inject(0);
  svc->poll_once();
  drain();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(f.get(), 1u);
  EXPECT_EQ(sl.text(0), payload(0));
}

// busy_poll: a waiting batch is handed the datagrams of one poll (no stack queue), completes from the
// poll handler (ready list, no post), and a batch re-armed by its handler takes the rest of the burst.
TEST(bypass_batch_drive, one_poll_fills_a_waiting_batch_without_the_stack_queue) {
  asio::io_context ctx{bypass::concurrency_hint(bypass::lane_threading::one_thread)};
  test_port port;
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c = test_lane(bypass::drive_mode::busy_poll);
  ASSERT_FALSE(svc.attach(port, c));
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  slots<4> sl;
  std::vector<std::size_t> sizes;
  std::vector<std::string> got;
  std::vector<audp::endpoint> from;
  bool initiating = false, ran_inside_initiation = false;
  std::function<void()> next = [&] {
    initiating = true;
    s.async_receive_batch(sl.span(), [&](std::error_code ec, std::size_t n) {
      ran_inside_initiation |= initiating;
      ASSERT_FALSE(ec) << ec.message();
      sizes.push_back(n);
      for (std::size_t i = 0; i < n; ++i) got.push_back(sl.text(i)), from.push_back(sl.s[i].source);
      if (got.size() == 13) return ctx.stop();
      next();
    });
    initiating = false;
  };
  next();
  // 10 in one burst: the waiting batch takes 4 straight from the stack, the other 6 are queued and two
  // re-armed batches take 4 and 2 from the queue; then 3 more: one waiting batch takes all 3 (partial).
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(port.inject(udp(src_ip(i), me_ip, src_port(i), 9000, text(payload(i)))));
  svc.start();
  while (got.size() < 10) ASSERT_EQ(ctx.run_one_for(std::chrono::seconds(5)), 1u);
  EXPECT_EQ(s.native().counters().received, 10u);
  for (int i = 10; i < 13; ++i) ASSERT_TRUE(port.inject(udp(src_ip(i), me_ip, src_port(i), 9000, text(payload(i)))));
  ctx.run_for(std::chrono::seconds(5));
  svc.stop();
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 2, 3}));
  ASSERT_EQ(got.size(), 13u);
  for (int i = 0; i < 13; ++i) {
    EXPECT_EQ(got[i], payload(i));
    EXPECT_EQ(from[i], source(i));
  }
  EXPECT_FALSE(ran_inside_initiation);
  EXPECT_EQ(svc.counters().completions, 4u);
  EXPECT_EQ(svc.counters().ran_inline, 4u) << "every batch ran from the poll handler, none posted";
  EXPECT_EQ(port.pool().out(), 0u) << "every copied frame went back";
}

// The one case where an aborted batch reports datagrams: it was filled by a poll, and a handler that
// runs before that poll handler ends closes its socket. operation_aborted, n = what was copied.
TEST(bypass_batch_drive, a_batch_closed_between_its_poll_and_its_completion_reports_what_it_copied) {
  asio::io_context ctx{bypass::concurrency_hint(bypass::lane_threading::one_thread)};
  test_port port;
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c = test_lane(bypass::drive_mode::busy_poll);
  ASSERT_FALSE(svc.attach(port, c));
  bypass::udp::socket a(ctx, audp::endpoint(audp::v4(), 9000));
  bypass::udp::socket b(ctx, audp::endpoint(audp::v4(), 9001));
  std::array<char, 16> buf{};
  audp::endpoint from;
  b.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t) {
    EXPECT_FALSE(ec);
    a.close();   // a's batch holds two datagrams from this same poll and waits for the poll's end
  });
  slots<8> sl;
  std::error_code a_ec;
  std::size_t a_n = 99;
  a.async_receive_batch(sl.span(), [&](std::error_code ec, std::size_t n) {
    a_ec = ec;
    a_n = n;
    ctx.stop();
  });
  ASSERT_TRUE(port.inject(udp(src_ip(0), me_ip, src_port(0), 9001, text("to b"))));
  for (int i = 1; i <= 2; ++i) ASSERT_TRUE(port.inject(udp(src_ip(i), me_ip, src_port(i), 9000, text(payload(i)))));
  svc.start();
  ctx.run_for(std::chrono::seconds(5));
  svc.stop();
  EXPECT_EQ(a_ec, asio::error::operation_aborted);
  ASSERT_EQ(a_n, 2u);
  EXPECT_EQ(sl.text(0), payload(1));
  EXPECT_EQ(sl.text(1), payload(2));
  EXPECT_EQ(sl.s[1].source, source(2));
  EXPECT_EQ(port.pool().out(), 0u);
}

}  // namespace
