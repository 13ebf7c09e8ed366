#pragma once
// AsioService: the event loop every ringlab program runs on. It owns one io_context (through an
// io_engine), N threads that run it, a work guard that keeps them running while idle, and a
// signal_set that turns SIGINT/SIGTERM into a clean stop. A handler that throws is never swallowed:
// its exception text goes to the config's exception callback (or the log), and the service stops or
// goes on as the config says.
//
//   auto svc = AsioService::create({.io = io_mode::uring, .threads = 2});
//   svc->start();                  // threads run the loop; signals are watched from here on
//   ... open sockets on ringlab::kernel::context(*svc) (kernel_context.hpp), post work ...
//   svc->join();                   // returns once stop() was called, a signal came, or a handler threw
//
// Life cycle: created -> running -> stopped, once. A stopped service does not start again (start()
// throws std::logic_error): make a new one. Sockets opened on a stopped service's context must be
// closed before the service is destroyed.
//
// This header names no Asio type on purpose: the io_uring build of the kernel code renames Asio
// (see asio_bypass/CMakeLists.txt), so only kernel_context.hpp hands out the io_context, in the
// namespace of the io mode its file was compiled for.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/io_engine.hpp"

namespace ringlab::bypass {

// What a handler's exception does to the service.
enum class on_handler_exception : std::uint8_t {
  stop,          // report it, then stop the service (the default: a broken handler ends the run)
  keep_running,  // report it, then go on running the loop
};

struct asio_service_config {
  // Which device carries the sockets: "kernel", "sim", "afxdp", "dpdk". For a bypass name create()
  // opens the device (backend.hpp's open_device with `device` below); when it cannot start, or the
  // name is unknown, the service falls back to "kernel" and logs the reason ONCE, at create()
  // (tests/unit/asio_bypass checks the single line).
  std::string backend = "kernel";
  // What a bypass backend opens: the trace for "sim", the interface spec for "afxdp", the vdev for
  // "dpdk" (device_options; its .backend is taken from `backend` above).
  device_options device = {};
  // When the asked backend cannot start: true falls back to "kernel" (logged once); false makes
  // create() throw std::runtime_error with the reason, for a tool whose input is at fault (a replay
  // file that does not open) and that wants the error, not a fallback.
  bool fall_back_to_kernel = true;
  io_mode io = io_mode::epoll;   // the kernel backend's reactor: epoll or io_uring
  unsigned threads = 1;          // threads running the loop; 0 is taken as 1
  bool stop_on_signals = true;   // SIGINT / SIGTERM stop the service
  on_handler_exception on_exception = on_handler_exception::stop;
  // One line per call, without a newline. Empty: lines go to stderr as "ringlab: LINE".
  std::function<void(std::string_view line)> log = {};
  // Called on the loop thread for each exception a handler threw, with its what() text ("unknown
  // exception" for a non-std one). Empty: the exception is reported through log.
  std::function<void(std::exception_ptr e, std::string_view what)> on_exception_report = {};
};

class AsioService : public std::enable_shared_from_this<AsioService> {
  struct passkey {};

 public:
  enum class state : std::uint8_t { created, running, stopped };

  static std::shared_ptr<AsioService> create(asio_service_config config = {});
  AsioService(passkey, asio_service_config config);
  AsioService(const AsioService&) = delete;
  AsioService& operator=(const AsioService&) = delete;
  ~AsioService();   // stops and joins; never throws

  // Starts the threads and the signal watch. Throws std::logic_error unless the state is created.
  void start();
  // Asks the loop to end; returns at once. Any thread, a handler, or a signal may call it; repeats are no-ops.
  void stop() noexcept;
  // Waits until every loop thread has ended. Must not be called from a loop thread.
  void join();
  // Waits until stop was asked (by anyone) or the timeout passed; true when it was asked.
  bool wait_for(std::chrono::milliseconds timeout);
  // start() then join(): runs the loop on N threads until stopped.
  void run();

  // Runs fn on a loop thread. An exception from fn is a handler exception (reported, see config).
  void post(std::function<void()> fn);

  const asio_service_config& config() const noexcept { return cfg_; }
  io_mode io() const noexcept { return cfg_.io; }
  std::string_view backend() const noexcept { return backend_; }          // the one in use
  std::string_view fallback_reason() const noexcept { return fallback_; } // empty: the asked one runs
  // The bypass device when backend() is not "kernel" (nullptr otherwise). Its queues carry the stacks
  // (bypass_service, one per queue and io_context); it lives as long as the service.
  device* bypass_device() noexcept { return device_.get(); }
  state current_state() const noexcept { return state_.load(std::memory_order_acquire); }
  bool stop_requested() const noexcept;
  std::optional<int> stop_signal() const noexcept;        // the signal that stopped it, if one did
  std::uint64_t handler_exceptions() const noexcept { return exceptions_.load(std::memory_order_relaxed); }

  // For code compiled for one io mode (kernel_context.hpp): the engine under the service.
  io_engine& engine() noexcept { return *engine_; }

 private:
  void thread_main();
  void report(std::exception_ptr e);
  void log(std::string_view line) const;

  asio_service_config cfg_;
  std::string backend_ = "kernel";
  std::string fallback_;
  std::unique_ptr<device> device_;
  std::unique_ptr<io_engine> engine_;
  std::vector<std::thread> threads_;
  std::atomic<state> state_{state::created};
  std::atomic<std::uint64_t> exceptions_{0};
  mutable std::mutex mu_;              // guards stop_asked_, signal_
  std::condition_variable stopped_cv_;
  bool stop_asked_ = false;
  std::optional<int> signal_;
  std::mutex join_mu_;                 // one joiner at a time (join() and the destructor may race)
};

}  // namespace ringlab::bypass
