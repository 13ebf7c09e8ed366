// AsioService's life cycle in both io modes: threads, signals, handler exceptions, no restart, and the
// backend choice (a bypass device opened by name, or the fallback line).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <latch>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asio_bypass/asio_service.hpp"
#include "asio_bypass/kernel_context.hpp"
#include "sim_nic/pcap_trace.hpp"

using namespace std::chrono_literals;
using ringlab::bypass::AsioService;
using ringlab::bypass::asio_service_config;
using ringlab::bypass::io_mode;
using ringlab::bypass::on_handler_exception;

namespace {

class asio_service : public ::testing::TestWithParam<io_mode> {
 protected:
  asio_service_config cfg(unsigned threads = 1) {
    asio_service_config c;
    c.io = GetParam();
    c.threads = threads;
    c.log = [this](std::string_view l) {
      std::lock_guard lk(mu);
      lines.emplace_back(l);
    };
    return c;
  }
  std::vector<std::string> log_lines() {
    std::lock_guard lk(mu);
    return lines;
  }
  std::mutex mu;
  std::vector<std::string> lines;
};

std::string name_of(const ::testing::TestParamInfo<io_mode>& p) {
  return std::string(ringlab::bypass::to_string(p.param));
}

}  // namespace

TEST_P(asio_service, runs_handlers_on_n_threads_at_once_and_joins) {
  auto svc = AsioService::create(cfg(3));
  EXPECT_EQ(svc->current_state(), AsioService::state::created);
  svc->start();
  EXPECT_EQ(svc->current_state(), AsioService::state::running);
  // Three handlers that each wait for the other two: they finish only if three threads run them.
  std::latch all_in(3);
  std::mutex ids_mu;
  std::set<std::thread::id> ids;
  std::atomic<int> done{0};
  for (int i = 0; i < 3; ++i)
    svc->post([&] {
      {
        std::lock_guard lk(ids_mu);
        ids.insert(std::this_thread::get_id());
      }
      all_in.arrive_and_wait();
      done.fetch_add(1);
    });
  ASSERT_TRUE(svc->wait_for(0ms) == false);
  for (int i = 0; i < 500 && done.load() < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(done.load(), 3);
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
  svc->stop();
  svc->join();
  EXPECT_EQ(svc->current_state(), AsioService::state::stopped);
  EXPECT_FALSE(svc->stop_signal().has_value());
  EXPECT_EQ(svc->handler_exceptions(), 0u);
}

TEST_P(asio_service, idle_loop_keeps_running_until_stopped) {
  auto svc = AsioService::create(cfg(2));
  svc->start();
  EXPECT_FALSE(svc->wait_for(100ms));   // the work guard keeps the idle threads in run()
  std::atomic<bool> ran{false};
  svc->post([&] { ran = true; });
  for (int i = 0; i < 500 && !ran; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_TRUE(ran);
  svc->stop();
  EXPECT_TRUE(svc->wait_for(0ms));
  svc->join();
}

TEST_P(asio_service, sigterm_stops_it_cleanly) {
  auto svc = AsioService::create(cfg(2));
  svc->start();
  ASSERT_EQ(std::raise(SIGTERM), 0);   // the default action would end this test binary
  ASSERT_TRUE(svc->wait_for(10s));
  svc->join();
  ASSERT_TRUE(svc->stop_signal().has_value());
  EXPECT_EQ(*svc->stop_signal(), SIGTERM);
  const auto l = log_lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_NE(l[0].find("signal"), std::string::npos) << l[0];
}

TEST_P(asio_service, sigint_stops_it_too) {
  auto svc = AsioService::create(cfg(1));
  svc->start();
  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  ASSERT_TRUE(svc->wait_for(10s));
  svc->join();
  EXPECT_EQ(svc->stop_signal().value_or(0), SIGINT);
}

TEST_P(asio_service, handler_exception_is_reported_with_its_text_and_stops_by_default) {
  auto c = cfg(2);
  std::mutex m;
  std::vector<std::string> reports;
  c.on_exception_report = [&](std::exception_ptr e, std::string_view what) {
    EXPECT_TRUE(e != nullptr);
    std::lock_guard lk(m);
    reports.emplace_back(what);
  };
  auto svc = AsioService::create(c);
  svc->start();
  svc->post([] { throw std::runtime_error("boom in a handler"); });
  ASSERT_TRUE(svc->wait_for(10s));
  svc->join();
  EXPECT_EQ(svc->handler_exceptions(), 1u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0], "boom in a handler");
  EXPECT_EQ(svc->current_state(), AsioService::state::stopped);
}

TEST_P(asio_service, handler_exception_goes_to_the_log_when_no_callback_and_keep_running_goes_on) {
  auto c = cfg(1);
  c.on_exception = on_handler_exception::keep_running;
  auto svc = AsioService::create(c);
  svc->start();
  std::atomic<bool> after{false};
  svc->post([] { throw std::logic_error("first"); });
  svc->post([] { throw 42; });
  svc->post([&] { after = true; });
  for (int i = 0; i < 500 && !after; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_TRUE(after);
  EXPECT_FALSE(svc->stop_requested());
  EXPECT_EQ(svc->handler_exceptions(), 2u);
  svc->stop();
  svc->join();
  const auto l = log_lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0], "handler threw: first (going on)");
  EXPECT_EQ(l[1], "handler threw: unknown exception (going on)");
}

TEST_P(asio_service, does_not_restart) {
  auto svc = AsioService::create(cfg(1));
  svc->start();
  EXPECT_THROW(svc->start(), std::logic_error);   // already running
  svc->stop();
  svc->join();
  EXPECT_THROW(svc->start(), std::logic_error);   // stopped: make a new service
  auto never = AsioService::create(cfg(1));
  never->stop();                                  // stopped before it started
  EXPECT_THROW(never->start(), std::logic_error);
  EXPECT_EQ(never->current_state(), AsioService::state::stopped);
}

TEST_P(asio_service, destructor_stops_and_joins_a_running_service) {
  std::atomic<int> ran{0};
  {
    auto svc = AsioService::create(cfg(2));
    svc->start();
    svc->post([&] { ran = 1; });
    for (int i = 0; i < 500 && !ran; ++i) std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(ran.load(), 1);
}

TEST_P(asio_service, signals_are_the_default_again_after_join) {
  auto svc = AsioService::create(cfg(1));
  svc->start();
  svc->stop();
  svc->join();
  struct sigaction sa{};
  ASSERT_EQ(::sigaction(SIGTERM, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);
}

TEST_P(asio_service, stop_on_signals_off_installs_no_handler) {
  auto c = cfg(1);
  c.stop_on_signals = false;
  auto svc = AsioService::create(c);
  svc->start();
  struct sigaction sa{};
  ASSERT_EQ(::sigaction(SIGINT, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);
  svc->stop();
  svc->join();
}

TEST_P(asio_service, backend_that_cannot_start_falls_back_to_kernel_and_says_so_once) {
  auto c = cfg(1);
  c.backend = "afxdp";   // no interface named: the device cannot open
  auto svc = AsioService::create(c);
  EXPECT_EQ(svc->backend(), "kernel");
  EXPECT_EQ(svc->bypass_device(), nullptr);
  const std::string line =
      "backend 'afxdp' cannot start (backend 'afxdp' needs a device (an interface or a vdev)): falling back to "
      "'kernel'";
  EXPECT_EQ(svc->fallback_reason(), line);
  svc->start();
  svc->stop();
  svc->join();
  const auto l = log_lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0], line);

  lines.clear();
  c.backend = "dpdk";
  c.device.device = "net_nonesuch0";   // DPDK has no such driver (or is not built): not startable
  auto dpdk = AsioService::create(c);
  EXPECT_EQ(dpdk->backend(), "kernel");
  ASSERT_EQ(log_lines().size(), 1u);
  EXPECT_TRUE(log_lines()[0].starts_with("backend 'dpdk' cannot start (")) << log_lines()[0];
  EXPECT_TRUE(log_lines()[0].ends_with("): falling back to 'kernel'")) << log_lines()[0];

  lines.clear();
  c.backend = "warp-drive";
  auto other = AsioService::create(c);
  EXPECT_EQ(other->backend(), "kernel");
  ASSERT_EQ(log_lines().size(), 1u);
  EXPECT_EQ(log_lines()[0], "unknown backend 'warp-drive': falling back to 'kernel'");

  lines.clear();
  c.backend = "kernel";
  auto k = AsioService::create(c);
  EXPECT_TRUE(k->fallback_reason().empty());
  EXPECT_EQ(k->bypass_device(), nullptr);
  EXPECT_TRUE(log_lines().empty());
}

TEST_P(asio_service, sim_backend_opens_its_device_and_says_nothing) {
  // Two frames to replay; the device is sim_nic with the queues asked for.
  const std::vector<std::vector<std::byte>> frames{std::vector<std::byte>(60, std::byte{0xab}),
                                                   std::vector<std::byte>(64, std::byte{0xcd})};
  const auto trace = ringlab::sim::pcap_trace::from_frames(frames, {1000, 2000});
  auto c = cfg(1);
  c.backend = "sim";
  c.device.trace = &trace;
  c.device.queues = 2;
  auto svc = AsioService::create(c);
  EXPECT_EQ(svc->backend(), "sim");
  EXPECT_TRUE(svc->fallback_reason().empty());
  EXPECT_TRUE(log_lines().empty());
  ASSERT_NE(svc->bypass_device(), nullptr);
  EXPECT_EQ(svc->bypass_device()->backend(), "sim");
  EXPECT_EQ(svc->bypass_device()->queues(), 2);
  ASSERT_NE(svc->bypass_device()->sim_nic(), nullptr);
  // The replay moves both frames into the RX rings on the virtual clock.
  EXPECT_EQ(svc->bypass_device()->sim_nic()->step(8), 2u);
}

TEST_P(asio_service, no_fallback_asked_makes_create_throw_with_the_reason) {
  auto c = cfg(1);
  c.backend = "sim";   // no trace given
  c.fall_back_to_kernel = false;
  try {
    AsioService::create(c);
    FAIL() << "create() should have thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "backend 'sim' needs a trace to replay");
  }
  EXPECT_TRUE(log_lines().empty());
  c.backend = "warp-drive";
  EXPECT_THROW(AsioService::create(c), std::runtime_error);
}

TEST_P(asio_service, engine_runs_the_mode_asked_for) {
  auto svc = AsioService::create(cfg(1));
  EXPECT_EQ(svc->engine().mode(), GetParam());
  if (GetParam() == io_mode::epoll) {
    // This file is ordinary (epoll) code: it gets the context of an epoll service, and refuses a uring one.
    asio::io_context& ctx = ringlab::kernel::epoll::context(*svc);
    EXPECT_EQ(static_cast<void*>(&ctx), svc->engine().native_context());
  } else {
    EXPECT_THROW(ringlab::kernel::epoll::context(*svc), std::logic_error);
  }
}

INSTANTIATE_TEST_SUITE_P(io, asio_service, ::testing::Values(io_mode::epoll, io_mode::uring), name_of);

TEST(io_mode, parses_and_prints) {
  EXPECT_EQ(ringlab::bypass::parse_io_mode("epoll"), io_mode::epoll);
  EXPECT_EQ(ringlab::bypass::parse_io_mode("uring"), io_mode::uring);
  EXPECT_EQ(ringlab::bypass::parse_io_mode("io_uring"), io_mode::uring);
  EXPECT_FALSE(ringlab::bypass::parse_io_mode("kqueue").has_value());
  EXPECT_EQ(ringlab::bypass::to_string(io_mode::uring), "uring");
}
