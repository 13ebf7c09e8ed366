#include "asio_bypass/asio_service.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace ringlab::bypass {

std::string_view to_string(io_mode m) noexcept { return m == io_mode::uring ? "uring" : "epoll"; }

std::optional<io_mode> parse_io_mode(std::string_view s) noexcept {
  if (s == "epoll") return io_mode::epoll;
  if (s == "uring" || s == "io_uring") return io_mode::uring;
  return std::nullopt;
}

std::shared_ptr<AsioService> AsioService::create(asio_service_config config) {
  return std::make_shared<AsioService>(passkey{}, std::move(config));
}

AsioService::AsioService(passkey, asio_service_config config) : cfg_(std::move(config)) {
  if (cfg_.threads == 0) cfg_.threads = 1;
  if (cfg_.backend != "kernel") {
    device_options d = cfg_.device;
    d.backend = cfg_.backend;
    std::string why;
    const bool known = cfg_.backend == "sim" || cfg_.backend == "afxdp" || cfg_.backend == "dpdk";
    if (known) device_ = open_device(d, why);
    if (device_) {
      backend_ = cfg_.backend;
    } else {
      if (!cfg_.fall_back_to_kernel) throw std::runtime_error(known ? why : "unknown backend '" + cfg_.backend + "'");
      fallback_ = known ? "backend '" + cfg_.backend + "' cannot start (" + why + "): falling back to 'kernel'"
                        : "unknown backend '" + cfg_.backend + "': falling back to 'kernel'";
      log(fallback_);   // the one time the reason is told
    }
  }
  engine_ = cfg_.io == io_mode::uring ? kernel::uring::make_engine() : kernel::epoll::make_engine();
}

AsioService::~AsioService() {
  stop();
  try {
    join();
  } catch (...) {
    // join() throws only when called from a loop thread: the last shared_ptr was dropped by a handler.
    // Detaching is the only way out that does not terminate; the thread ends as the loop is stopped.
    for (auto& t : threads_)
      if (t.joinable()) {
        if (t.get_id() == std::this_thread::get_id()) t.detach(); else t.join();
      }
  }
  engine_->unwatch_signals();
}

void AsioService::start() {
  state expected = state::created;
  if (!state_.compare_exchange_strong(expected, state::running, std::memory_order_acq_rel))
    throw std::logic_error(expected == state::running
                               ? "AsioService::start: already running"
                               : "AsioService::start: a stopped service does not restart; create a new one");
  if (cfg_.stop_on_signals) {
    engine_->watch_signals([this](int signo) {
      {
        std::lock_guard lk(mu_);
        if (!signal_) signal_ = signo;
      }
      log(std::string("signal ") + strsignal(signo) + ": stopping");
      stop();
    });
  }
  threads_.reserve(cfg_.threads);
  for (unsigned i = 0; i < cfg_.threads; ++i) threads_.emplace_back([this] { thread_main(); });
}

void AsioService::thread_main() {
  for (;;) {
    try {
      engine_->run();
      return;   // stopped
    } catch (...) {
      report(std::current_exception());
      if (cfg_.on_exception == on_handler_exception::stop) {
        stop();
        return;
      }
      // keep_running: Asio leaves the remaining work queued; run() again picks it up.
    }
  }
}

void AsioService::report(std::exception_ptr e) {
  exceptions_.fetch_add(1, std::memory_order_relaxed);
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    what = x.what();
  } catch (...) {
  }
  if (cfg_.on_exception_report) {
    cfg_.on_exception_report(e, what);
  } else {
    log("handler threw: " + what +
        (cfg_.on_exception == on_handler_exception::stop ? " (stopping)" : " (going on)"));
  }
}

void AsioService::stop() noexcept {
  {
    std::lock_guard lk(mu_);
    stop_asked_ = true;
  }
  stopped_cv_.notify_all();
  engine_->stop();
  state expected = state::running;
  state_.compare_exchange_strong(expected, state::stopped, std::memory_order_acq_rel);
  expected = state::created;   // stop() before start(): the service can no longer start
  state_.compare_exchange_strong(expected, state::stopped, std::memory_order_acq_rel);
}

void AsioService::join() {
  for (const auto& t : threads_)
    if (t.get_id() == std::this_thread::get_id())
      throw std::logic_error("AsioService::join called from one of its own loop threads");
  std::lock_guard lk(join_mu_);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  if (!threads_.empty()) engine_->unwatch_signals();
}

bool AsioService::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return stopped_cv_.wait_for(lk, timeout, [this] { return stop_asked_; });
}

void AsioService::run() {
  start();
  join();
}

void AsioService::post(std::function<void()> fn) { engine_->post(std::move(fn)); }

bool AsioService::stop_requested() const noexcept {
  std::lock_guard lk(mu_);
  return stop_asked_;
}

std::optional<int> AsioService::stop_signal() const noexcept {
  std::lock_guard lk(mu_);
  return signal_;
}

void AsioService::log(std::string_view line) const {
  if (cfg_.log) {
    cfg_.log(line);
  } else {
    std::fprintf(stderr, "ringlab: %.*s\n", static_cast<int>(line.size()), line.data());
  }
}

}  // namespace ringlab::bypass
