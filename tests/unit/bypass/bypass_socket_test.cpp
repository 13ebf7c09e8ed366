// bypass::udp::socket over a test port (frames injected by hand, polled by hand or from the
// io_context): Asio's contract as asio::ip::audp::socket keeps it. Callbacks, use_future and
// use_awaitable all complete; a handler never runs inside its initiating function or inside poll;
// cancellation through the slot, cancel() and close() give operation_aborted; a lent frame stays out
// of the pool until released; shutdown destroys pending handlers without invoking them.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/bind_executor.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <future>
#include <stdexcept>
#include <string>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/unit/bypass/test_lane.hpp"
#include "tests/unit/stack/test_port.hpp"

using namespace ringlab;
using namespace ringlab::stack::testing;
using audp = asio::ip::udp;

namespace {

const wire::ipv4_addr group{239, 1, 1, 1};

std::string str(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

struct fixture : ::testing::Test {
  asio::io_context ctx{1};
  test_port port;
  bypass::bypass_service* svc = nullptr;
  std::uint64_t clock = 1'000'000;

  void SetUp() override {
    svc = &asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config c = test_lane(bypass::drive_mode::manual);
    c.clock = [this] { return clock; };
    ASSERT_FALSE(svc->attach(port, c));
  }
  // Runs the handlers that are ready. restart(): an io_context that ran out of work stops (Asio's rule).
  void drain() {
    ctx.restart();
    ctx.poll();
  }
  void inject(std::uint16_t dport, std::string_view text_) {
    ASSERT_TRUE(port.inject(udp(peer_ip, me_ip, 7000, dport, text(text_))));
  }
};

TEST_F(fixture, service_is_found_by_its_key_and_attaches_once) {
  EXPECT_EQ(&asio::use_service<bypass::bypass_service>(ctx), svc);
  EXPECT_TRUE(asio::has_service<bypass::bypass_service>(ctx));
  EXPECT_EQ(svc->attach(port, {}), std::errc::already_connected);
}

TEST_F(fixture, queued_receive_completes_from_poll_but_runs_on_the_context) {
  bypass::udp::socket s(ctx);
  s.bind(audp::endpoint(audp::v4(), 9000));
  std::array<char, 64> buf{};
  audp::endpoint from;
  int calls = 0;
  std::size_t got = 0;
  s.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    got = n;
    ++calls;
  });
  EXPECT_EQ(s.queued_ops(), 1u);
  inject(9000, "hello bypass");
  svc->poll_once();
  EXPECT_EQ(calls, 0) << "a handler must not run inside poll";
  EXPECT_EQ(s.queued_ops(), 0u);
  drain();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(std::string(buf.data(), got), "hello bypass");
  EXPECT_EQ(from, audp::endpoint(asio::ip::make_address_v4("10.0.0.1"), 7000));
  EXPECT_EQ(port.pool().out(), 0u);
}

TEST_F(fixture, ready_receive_is_tried_at_once_and_posted_not_invoked) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  inject(9000, "first");
  inject(9000, "second");
  svc->poll_once();
  EXPECT_EQ(s.native().available(), 2u);
  std::array<char, 64> buf{};
  audp::endpoint from;
  std::vector<std::string> got;
  s.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
    ASSERT_FALSE(ec);
    got.emplace_back(buf.data(), n);
  });
  EXPECT_EQ(s.queued_ops(), 0u) << "the op was performed at once";
  EXPECT_TRUE(got.empty()) << "but its handler is posted";
  drain();
  ASSERT_EQ(got, std::vector<std::string>{"first"});
  // The non-blocking form.
  std::error_code ec;
  const std::size_t n = s.receive_from(asio::buffer(buf), from, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf.data(), n), "second");
  s.receive_from(asio::buffer(buf), from, ec);
  EXPECT_EQ(ec, asio::error::would_block);
}

TEST_F(fixture, scatter_buffers_and_truncation_like_recvfrom) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  inject(9000, "0123456789");
  svc->poll_once();
  std::array<char, 4> a{}, b{};
  std::array<asio::mutable_buffer, 2> bufs{asio::buffer(a), asio::buffer(b)};
  audp::endpoint from;
  std::error_code ec;
  EXPECT_EQ(s.receive_from(bufs, from, ec), 8u);
  EXPECT_EQ(std::string(a.data(), 4) + std::string(b.data(), 4), "01234567");
  EXPECT_EQ(port.pool().out(), 0u);
}

TEST_F(fixture, use_future_completes) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  std::array<char, 64> buf{};
  audp::endpoint from;
  std::future<std::size_t> f = s.async_receive_from(asio::buffer(buf), from, asio::use_future);
  inject(9000, "future");
  svc->poll_once();
  drain();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(std::string(buf.data(), f.get()), "future");

  // An error arrives as the future's exception.
  s.close();
  auto g = s.async_receive_from(asio::buffer(buf), from, asio::use_future);
  drain();
  try {
    g.get();
    ADD_FAILURE() << "expected an exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), asio::error::bad_descriptor);
  }
}

TEST_F(fixture, use_awaitable_completes_receive_frame_and_send) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  std::vector<std::string> got;
  std::size_t sent = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        std::array<char, 64> buf{};
        audp::endpoint from;
        const std::size_t n = co_await s.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
        got.emplace_back(buf.data(), n);
        stack::lent_frame f = co_await s.async_receive_frame(asio::use_awaitable);
        got.push_back(str(f.payload()));
        f.release();
        sent = co_await s.async_send_to(asio::buffer(std::string_view("reply")),
                                        audp::endpoint(asio::ip::make_address_v4("239.1.1.1"), 5000),
                                        asio::use_awaitable);
      },
      asio::detached);
  drain();
  inject(9000, "one");
  inject(9000, "two");
  svc->poll_once();
  drain();
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(sent, 5u);
  ASSERT_EQ(port.sent.size(), 1u);
  EXPECT_EQ(str(std::span(port.sent[0]).subspan(42, 5)), "reply");   // after Ethernet, IPv4, UDP (padded to 60)
  EXPECT_EQ(port.pool().out(), 0u);
}

TEST_F(fixture, lent_frame_stays_out_of_the_pool_until_released) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  stack::lent_frame held;
  s.async_receive_frame([&](std::error_code ec, stack::lent_frame f) {
    EXPECT_FALSE(ec);
    held = std::move(f);
  });
  inject(9000, "zero-copy");
  svc->poll_once();
  drain();
  ASSERT_TRUE(held);
  EXPECT_EQ(str(held.payload()), "zero-copy");
  EXPECT_EQ(port.pool().out(), 1u);
  // The payload points into the pool frame itself: no copy was made.
  EXPECT_TRUE(port.pool().owns(held.frame()));
  held.release();
  EXPECT_EQ(port.pool().out(), 0u);
}

// One burst mixing frames a socket keeps (lent, queued) with frames that are done at once (copied by a
// waiting receive, or dropped): the poll hands back exactly the done ones, in one release, and the kept
// ones stay out of the pool until their owners are done with them.
TEST_F(fixture, one_burst_of_kept_copied_and_dropped_frames_balances_the_pool) {
  bypass::udp::socket a(ctx, audp::endpoint(audp::v4(), 9000));
  bypass::udp::socket b(ctx, audp::endpoint(audp::v4(), 9001));
  stack::lent_frame held;
  a.async_receive_frame([&](std::error_code ec, stack::lent_frame f) {
    EXPECT_FALSE(ec);
    held = std::move(f);
  });
  std::array<char, 16> buf{};
  audp::endpoint from;
  std::string first;
  b.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    first.assign(buf.data(), n);
  });
  inject(9001, "b1");     // copied by b's waiting receive: done at once
  inject(9000, "a-lent"); // kept: lent to a's frame op
  inject(9002, "nobody"); // no socket: dropped, done at once
  inject(9001, "b2");     // queued on b (kept until read)
  inject(9001, "b3");     // queued on b
  inject(9002, "nobody2");
  EXPECT_EQ(port.pool().out(), 6u);
  svc->poll_once();   // one burst: all six
  drain();
  EXPECT_EQ(first, "b1");
  ASSERT_TRUE(held);
  EXPECT_EQ(str(held.payload()), "a-lent");
  EXPECT_EQ(port.pool().out(), 3u);   // the lent frame and the two queued on b
  std::error_code ec;
  std::vector<std::string> rest;
  for (std::size_t n; (n = b.receive_from(asio::buffer(buf), from, ec)), !ec;) rest.emplace_back(buf.data(), n);
  EXPECT_EQ(rest, (std::vector<std::string>{"b2", "b3"}));
  EXPECT_EQ(port.pool().out(), 1u);
  held.release();
  EXPECT_EQ(port.pool().out(), 0u);
}

TEST_F(fixture, cancellation_slot_aborts_one_queued_op) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  asio::cancellation_signal sig;
  std::array<char, 64> b1{}, b2{};
  audp::endpoint f1, f2;
  std::error_code e1, e2;
  std::string second;
  s.async_receive_from(asio::buffer(b1), f1, asio::bind_cancellation_slot(sig.slot(), [&](std::error_code ec, std::size_t) { e1 = ec; }));
  s.async_receive_from(asio::buffer(b2), f2, [&](std::error_code ec, std::size_t n) {
    e2 = ec;
    second.assign(b2.data(), n);
  });
  EXPECT_EQ(s.queued_ops(), 2u);
  sig.emit(asio::cancellation_type::terminal);
  EXPECT_EQ(s.queued_ops(), 1u);
  drain();
  EXPECT_EQ(e1, asio::error::operation_aborted);
  inject(9000, "after cancel");
  svc->poll_once();
  drain();
  EXPECT_FALSE(e2);
  EXPECT_EQ(second, "after cancel");
}

TEST_F(fixture, cancelling_the_middle_of_three_queued_receives_keeps_the_others_in_order) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  asio::cancellation_signal sig;
  std::array<std::array<char, 64>, 3> b{};
  std::array<audp::endpoint, 3> f;
  std::vector<std::string> log;
  auto rec = [&](int i) {
    return [&, i](std::error_code ec, std::size_t n) {
      log.push_back(std::to_string(i) + ":" + (ec ? std::string("aborted") : std::string(b[i].data(), n)));
    };
  };
  s.async_receive_from(asio::buffer(b[0]), f[0], rec(0));
  s.async_receive_from(asio::buffer(b[1]), f[1], asio::bind_cancellation_slot(sig.slot(), rec(1)));
  s.async_receive_frame([&](std::error_code ec, stack::lent_frame fr) {
    log.push_back(std::string("2:") + (ec ? std::string("aborted") : str(fr.payload())));
  });
  EXPECT_EQ(s.queued_ops(), 3u);
  sig.emit(asio::cancellation_type::partial);
  EXPECT_EQ(s.queued_ops(), 2u);
  inject(9000, "first");
  inject(9000, "second");
  svc->poll_once();
  EXPECT_EQ(s.queued_ops(), 0u);
  drain();
  EXPECT_EQ(log, (std::vector<std::string>{"1:aborted", "0:first", "2:second"}));
  EXPECT_EQ(port.pool().out(), 0u) << "the copied frame went back with the burst, the lent one when its handler ended";
}

TEST_F(fixture, cancel_and_close_abort_every_queued_op) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  std::array<char, 16> buf{};
  audp::endpoint from;
  std::vector<std::error_code> errs;
  auto h = [&](std::error_code ec, std::size_t) { errs.push_back(ec); };
  s.async_receive_from(asio::buffer(buf), from, h);
  s.async_receive_frame([&](std::error_code ec, stack::lent_frame f) {
    EXPECT_FALSE(f);
    errs.push_back(ec);
  });
  s.cancel();
  EXPECT_TRUE(errs.empty()) << "aborted handlers are posted too";
  drain();
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0], asio::error::operation_aborted);
  EXPECT_EQ(errs[1], asio::error::operation_aborted);
  errs.clear();
  s.async_receive_from(asio::buffer(buf), from, h);
  s.close();
  drain();
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], asio::error::operation_aborted);
  EXPECT_FALSE(s.is_open());
}

TEST_F(fixture, handlers_run_on_their_associated_executor) {
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  auto strand = asio::make_strand(ctx);
  std::array<char, 16> buf{};
  audp::endpoint from;
  bool on_strand = false;
  s.async_receive_from(asio::buffer(buf), from,
                       asio::bind_executor(strand, [&](std::error_code, std::size_t) { on_strand = strand.running_in_this_thread(); }));
  inject(9000, "x");
  svc->poll_once();
  drain();
  EXPECT_TRUE(on_strand);
}

TEST_F(fixture, shutdown_destroys_pending_handlers_without_invoking_them) {
  auto token = std::make_shared<int>(0);
  bool invoked = false;
  {
    asio::io_context ctx2;
    test_port port2;
    auto& svc2 = asio::use_service<bypass::bypass_service>(ctx2);
    bypass::lane_config c = test_lane(bypass::drive_mode::manual);
    ASSERT_FALSE(svc2.attach(port2, c));
    auto s = std::make_unique<bypass::udp::socket>(ctx2, audp::endpoint(audp::v4(), 9000));
    std::array<char, 16> buf{};
    audp::endpoint from;
    s->async_receive_from(asio::buffer(buf), from, [&, token](std::error_code, std::size_t) { invoked = true; });
    EXPECT_EQ(token.use_count(), 2);
    ctx2.stop();
    asio::use_service<bypass::bypass_service>(ctx2).shutdown_for_test();
    EXPECT_EQ(token.use_count(), 1) << "shutdown freed the queued handler";
    s.reset();
  }
  EXPECT_FALSE(invoked);
}

TEST_F(fixture, send_to_multicast_builds_a_frame_and_loops_back_to_members) {
  bypass::udp::socket rx(ctx, audp::endpoint(audp::v4(), 5000));
  rx.join_group(asio::ip::make_address_v4("239.1.1.1"));
  bypass::udp::socket tx(ctx);
  const auto sent_before = port.sent.size();   // the join's IGMP report
  std::size_t n = 0;
  tx.async_send_to(asio::buffer(std::string_view("quote")), audp::endpoint(asio::ip::make_address_v4("239.1.1.1"), 5000),
                   [&](std::error_code ec, std::size_t k) {
                     EXPECT_FALSE(ec);
                     n = k;
                   });
  EXPECT_EQ(n, 0u);
  drain();
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(port.sent.size(), sent_before + 1);
  std::array<char, 16> buf{};
  audp::endpoint from;
  std::error_code ec;
  EXPECT_EQ(rx.receive_from(asio::buffer(buf), from, ec), 5u) << ec.message();
  EXPECT_EQ(std::string(buf.data(), 5), "quote");
}

TEST(bypass_drive, busy_poll_runs_the_stack_from_the_io_context) {
  asio::io_context ctx{1};
  test_port port;
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c = test_lane(bypass::drive_mode::busy_poll);
  ASSERT_FALSE(svc.attach(port, c));
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(port.inject(udp(peer_ip, me_ip, 7000, 9000, text("m" + std::to_string(i)))));
  std::vector<std::string> got;
  std::array<char, 16> buf{};
  audp::endpoint from;
  std::function<void()> next = [&] {
    s.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
      ASSERT_FALSE(ec);
      got.emplace_back(buf.data(), n);
      if (got.size() == 10) return ctx.stop();
      next();
    });
  };
  next();
  svc.start();
  ctx.run_for(std::chrono::seconds(5));
  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i], "m" + std::to_string(i));
  EXPECT_GE(svc.counters().polls, 1u);
}

// Ops done inside the poll handler run from it (bypass_service's ready list): no post, never inside
// their own initiating function, and a receive re-armed from such a handler completes there too.
TEST(bypass_drive, completions_from_the_poll_handler_run_there_without_a_post) {
  asio::io_context ctx{bypass::concurrency_hint(bypass::lane_threading::one_thread)};
  test_port port;
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c = test_lane(bypass::drive_mode::busy_poll);
  ASSERT_FALSE(svc.attach(port, c));
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  std::vector<std::string> got;
  std::array<char, 16> buf{};
  audp::endpoint from;
  bool initiating = false, ran_inside_initiation = false;
  std::function<void()> next = [&] {
    initiating = true;
    s.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
      ran_inside_initiation |= initiating;
      ASSERT_FALSE(ec);
      got.emplace_back(buf.data(), n);
      if (got.size() == 10) return ctx.stop();
      next();
    });
    initiating = false;
  };
  next();   // queued: nothing has arrived yet
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(port.inject(udp(peer_ip, me_ip, 7000, 9000, text("m" + std::to_string(i)))));
  svc.start();
  ctx.run_for(std::chrono::seconds(5));
  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i], "m" + std::to_string(i));
  EXPECT_FALSE(ran_inside_initiation);
  EXPECT_EQ(svc.counters().completions, 10u);
  EXPECT_EQ(svc.counters().ran_inline, 10u);   // the first taken from the stack, nine re-armed and performed
  EXPECT_EQ(svc.counters().polls, 1u);         // one burst brought all ten
  EXPECT_EQ(port.pool().out(), 0u);            // every copied frame went back
}

TEST(bypass_drive, a_handler_that_throws_from_the_poll_handler_does_not_lose_the_others) {
  asio::io_context ctx{1};
  test_port port;
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c = test_lane(bypass::drive_mode::busy_poll);
  ASSERT_FALSE(svc.attach(port, c));
  bypass::udp::socket a(ctx, audp::endpoint(audp::v4(), 9000)), b(ctx, audp::endpoint(audp::v4(), 9001));
  std::array<char, 16> ba{}, bb{};
  audp::endpoint fa, fb;
  std::string got_b;
  a.async_receive_from(asio::buffer(ba), fa, [](std::error_code, std::size_t) { throw std::runtime_error("boom"); });
  b.async_receive_from(asio::buffer(bb), fb, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got_b.assign(bb.data(), n);
    ctx.stop();
  });
  ASSERT_TRUE(port.inject(udp(peer_ip, me_ip, 7000, 9000, text("to a"))));
  ASSERT_TRUE(port.inject(udp(peer_ip, me_ip, 7000, 9001, text("to b"))));
  svc.start();
  EXPECT_THROW(ctx.run_for(std::chrono::seconds(5)), std::runtime_error);
  EXPECT_EQ(got_b, "");
  ctx.run_for(std::chrono::seconds(5));   // Asio's rule: run() again goes on with the remaining work
  EXPECT_EQ(got_b, "to b");
  EXPECT_EQ(svc.counters().ran_inline, 2u);
}

// A port with a wait_fd: an eventfd the test signals when it injects, drained by rx_burst.
class fd_port final : public port::any_port {
 public:
  fd_port() : efd_(::eventfd(0, EFD_NONBLOCK)) {}
  ~fd_port() override { ::close(efd_); }
  void inject(const bytes& b) {
    inner.inject(b);
    const std::uint64_t one = 1;
    (void)!::write(efd_, &one, sizeof one);
  }
  std::size_t rx_burst(std::span<port::frame_ref> out) noexcept override {
    std::uint64_t v;
    (void)!::read(efd_, &v, sizeof v);
    return inner.rx_burst(out);
  }
  void rx_release(std::span<const port::frame_ref> f) noexcept override { inner.rx_release(f); }
  port::tx_batch tx_reserve(std::size_t n) noexcept override { return inner.tx_reserve(n); }
  port::port_caps caps() const override {
    auto c = inner.caps();
    c.wait_fd = efd_;
    return c;
  }
  port::frame_pool& pool() noexcept override { return inner.pool(); }
  void tx_commit(std::span<port::frame_ref>) noexcept override {}
  void tx_cancel(std::span<port::frame_ref>) noexcept override {}
  test_port inner;

 private:
  int efd_;
};

TEST(bypass_drive, wait_fd_sleeps_on_the_port_fd_until_frames_arrive) {
  asio::io_context ctx{1};
  fd_port port;
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c = test_lane(bypass::drive_mode::wait_fd);
  ASSERT_FALSE(svc.attach(port, c));
  bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
  std::array<char, 16> buf{};
  audp::endpoint from;
  std::string got;
  s.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got.assign(buf.data(), n);
    ctx.stop();
  });
  svc.start();
  // Nothing arrives for a while: the loop sleeps in the fd wait instead of spinning.
  ctx.run_for(std::chrono::milliseconds(50));
  const auto polls_idle = svc.counters().polls;
  EXPECT_LE(polls_idle, 5u) << "wait_fd must not spin";
  EXPECT_GE(svc.counters().fd_waits, 1u);
  ctx.restart();
  port.inject(udp(peer_ip, me_ip, 7000, 9000, text("woken")));
  ctx.run_for(std::chrono::seconds(5));
  EXPECT_EQ(got, "woken");
  EXPECT_TRUE(svc.fallback_reason().empty());
}

TEST(bypass_drive, wait_fd_without_an_fd_falls_back_to_busy_poll_and_says_so) {
  asio::io_context ctx{1};
  test_port port;
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c = test_lane(bypass::drive_mode::wait_fd);
  ASSERT_FALSE(svc.attach(port, c));
  svc.start();
  EXPECT_EQ(svc.fallback_reason(), "port 'test_port' has no wait_fd: busy-polling instead");
  ctx.run_for(std::chrono::milliseconds(5));
  EXPECT_GT(svc.counters().polls, 1u);
}

}  // namespace
