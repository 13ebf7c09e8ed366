// The kernel backend's io_engine: one asio::io_context with a work guard and a signal_set.
// Compiled twice (asio_bypass/CMakeLists.txt): into ringlab::kernel::epoll with Asio's epoll reactor
// and into ringlab::kernel::uring with Asio on io_uring (Asio renamed, so no symbol is shared).
#include "asio_bypass/kernel_io_mode.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>

#include "asio_bypass/kernel_context.hpp"

namespace ringlab::kernel::RINGLAB_KERNEL_IO {
namespace {

class engine final : public bypass::io_engine {
 public:
  engine() : guard_(asio::make_work_guard(ctx_)) {}

  bypass::io_mode mode() const noexcept override { return compiled_io_mode; }
  void run() override { ctx_.run(); }
  void stop() noexcept override {
    // ctx_.stop() is thread-safe; the guard is not, so it is reset on the loop (or here once no loop
    // runs: run() after stop() returns at once, and the guard dies with the engine anyway).
    ctx_.stop();
  }
  void post(std::function<void()> fn) override { asio::post(ctx_, std::move(fn)); }

  void watch_signals(std::function<void(int)> on_signal) override {
    // The constructor installs the handlers before it returns: a signal raised after watch_signals()
    // is never the default (fatal) action.
    signals_.emplace(ctx_, SIGINT, SIGTERM);
    on_signal_ = std::move(on_signal);
    arm();
  }
  void unwatch_signals() noexcept override {
    if (!signals_) return;
    asio::error_code ignored;
    signals_->clear(ignored);   // restores SIG_DFL for both
    signals_.reset();
  }
  void* native_context() noexcept override { return &ctx_; }

 private:
  void arm() {
    signals_->async_wait([this](const asio::error_code& ec, int signo) {
      if (ec) return;   // operation_aborted: unwatch_signals() or the context's end
      on_signal_(signo);
      arm();
    });
  }

  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::optional<asio::signal_set> signals_;
  std::function<void(int)> on_signal_;
};

}  // namespace

std::unique_ptr<bypass::io_engine> make_engine() { return std::make_unique<engine>(); }

asio::io_context& context(bypass::AsioService& svc) {
  if (svc.engine().mode() != compiled_io_mode)
    throw std::logic_error("AsioService runs io mode '" + std::string(to_string(svc.engine().mode())) +
                           "', this code was compiled for '" + std::string(to_string(compiled_io_mode)) + "'");
  return *static_cast<asio::io_context*>(svc.engine().native_context());
}

}  // namespace ringlab::kernel::RINGLAB_KERNEL_IO
