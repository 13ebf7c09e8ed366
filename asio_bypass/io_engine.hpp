#pragma once
// io_engine: the seam between AsioService (compiled once) and the code that holds an io_context
// (compiled once per io mode, see asio_bypass/CMakeLists.txt). It names no Asio type, so the two
// io-mode builds never meet through a shared Asio symbol.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace ringlab::bypass {

// The kernel backend's reactor. epoll: Asio's default; uring: Asio built with ASIO_HAS_IO_URING and
// ASIO_DISABLE_EPOLL, so sockets, timers and signals all go through one io_uring.
enum class io_mode : std::uint8_t { epoll, uring };
std::string_view to_string(io_mode m) noexcept;
std::optional<io_mode> parse_io_mode(std::string_view s) noexcept;

class io_engine {
 public:
  virtual ~io_engine() = default;
  virtual io_mode mode() const noexcept = 0;
  // Runs the loop in the calling thread until stop(). A handler's exception propagates out of run();
  // calling run() again goes on with the remaining work (Asio's rule).
  virtual void run() = 0;
  // Ends every run() now and from here on (the work guard keeps run() going only until then).
  virtual void stop() noexcept = 0;
  virtual void post(std::function<void()> fn) = 0;
  // Installs SIGINT/SIGTERM handlers (before returning) and calls on_signal(signo) on the loop.
  virtual void watch_signals(std::function<void(int)> on_signal) = 0;
  // Removes them again (the default action comes back). Call once no thread runs the loop.
  virtual void unwatch_signals() noexcept = 0;
  // The mode's asio::io_context; only kernel_context.hpp, compiled for the same mode, casts it.
  virtual void* native_context() noexcept = 0;
};

}  // namespace ringlab::bypass

// One factory per io mode, each defined in its own compilation of kernel_engine.cpp.
namespace ringlab::kernel::epoll { std::unique_ptr<bypass::io_engine> make_engine(); }
namespace ringlab::kernel::uring { std::unique_ptr<bypass::io_engine> make_engine(); }
