#pragma once
// bypass_service: one user-space stack (stack::interface) on one port queue, driven from an Asio
// io_context, through Asio's public extension points only: it is an asio::execution_context::service
// found by its static id (asio::use_service<bypass_service>(ctx)); it posts ordinary handlers; sockets
// (asio_bypass/udp_socket.hpp) start their operations with asio::async_initiate.
//
//   io_context ──► poll handler ──► ingest(now) (sim_nic: move due frames into the RX rings)
//                                   interface::poll(now) ──► rx_burst ─► eth/ip/udp ─► udp_socket
//                                                         └► the socket's reader hook: a waiting
//                                                            bypass socket op takes the datagram
//                                   then completes the ops done in that poll (the ready list)
//              ◄── re-posts itself (busy_poll) | waits on caps().wait_fd (wait_fd) | you call poll_once()
//
// Share-nothing (as mTCP and Seastar): one io_context, one bypass_service, one interface and one port
// queue per core. Nothing here locks; every call is made on the thread that runs the io_context.
//
// Drive modes:
//   busy_poll  the poll handler re-posts itself while the service is started: lowest latency, one core
//              at 100%. Other handlers interleave fairly (Asio runs posted handlers in FIFO order).
//   wait_fd    poll until nothing is left to do, then asio::posix::stream_descriptor::async_wait on the
//              port's caps().wait_fd (readable), with a steady_timer for the stack's next deadline.
//              A port without a wait_fd falls back to busy_poll (said once in fallback_reason()).
//   manual     nothing is posted; the owner calls poll_once() (deterministic tests on a virtual clock).
#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "asio_bypass/detail/op_queue.hpp"
#include "asio_bypass/detail/operation.hpp"
#include "port/port.hpp"
#include "stack/iface/interface.hpp"
#include "stack/iface/time.hpp"

namespace ringlab::bypass {

enum class drive_mode : std::uint8_t { busy_poll, wait_fd, manual };

// Who runs the io_context a lane lives on. one_thread: ONE thread runs it and nothing is posted to it
// from any other thread (the share-nothing lane: one io_context per queue per core); Asio then needs
// no locks (ASIO_CONCURRENCY_HINT_UNSAFE: no mutex in the scheduler or the reactor). shared: any
// other use, e.g. AsioService's context run by N threads, or stop()/post from another thread (the
// default; TSan-clean). A choice made where the io_context is built:
//   asio::io_context ctx{bypass::concurrency_hint(bypass::lane_threading::one_thread)};
enum class lane_threading : std::uint8_t { shared, one_thread };
constexpr int concurrency_hint(lane_threading t) noexcept {
  return t == lane_threading::one_thread ? ASIO_CONCURRENCY_HINT_UNSAFE : ASIO_CONCURRENCY_HINT_DEFAULT;
}

std::string_view to_string(drive_mode m) noexcept;
std::optional<drive_mode> parse_drive_mode(std::string_view s) noexcept;

struct lane_config {
  stack::interface_config iface;
  drive_mode drive = drive_mode::busy_poll;
  // The port's clock in ns. Empty: CLOCK_MONOTONIC (real ports). sim_nic: its virtual clock.
  std::function<stack::time_ns()> clock;
  // Runs before each poll with the time it will poll at: sim_nic's ingest (step / advance_to). Returns
  // how many frames it moved; empty for real devices (they DMA on their own).
  std::function<std::size_t(stack::time_ns now)> ingest;
};

// What the service needs from each socket opened on it: at shutdown, pending operations are destroyed
// without their handlers being invoked.
class socket_hooks {
 public:
  virtual void shutdown_ops() noexcept = 0;
  // Performs the socket's queued operations now (see defer_perform()).
  virtual void perform_deferred() noexcept = 0;
 protected:
  ~socket_hooks() = default;
};

struct lane_counters {
  std::uint64_t polls = 0;          // interface::poll calls
  std::uint64_t busy_polls = 0;     // of them, with nothing received and nothing ingested
  std::uint64_t fd_waits = 0;       // async_wait calls on the port's wait_fd
  std::uint64_t completions = 0;    // socket operations completed (handlers posted or run)
  std::uint64_t ran_inline = 0;     // of them, completed straight from the poll handler (ready list)
  std::uint64_t yields = 0;         // poll handler turns skipped: completions were still waiting to run
};

class bypass_service : public asio::execution_context::service {
 public:
  // The key Asio finds the service by: asio::use_service<bypass_service>(io_context).
  static asio::execution_context::id id;

  explicit bypass_service(asio::io_context& ctx);
  ~bypass_service() override;

  // Puts the stack on `port` (one queue of a device). Once per service; the port must outlive the
  // service (or the io_context). Errors: already_connected (attached before).
  std::error_code attach(port::any_port& port, lane_config cfg);
  bool attached() const noexcept { return ifc_ != nullptr; }

  // Starts driving as configured (busy_poll / wait_fd); manual: nothing. Idempotent.
  void start();
  // Stops re-posting / waiting; pending socket operations stay pending. Idempotent.
  void stop() noexcept;
  bool running() const noexcept { return running_; }

  // One ingest + poll at clock(); returns the stack's next deadline. Any mode, loop thread only.
  stack::time_ns poll_once() noexcept;

  stack::interface& iface() noexcept { return *ifc_; }
  port::any_port& port() noexcept { return *port_; }
  stack::time_ns now() const noexcept;
  asio::io_context& context() noexcept { return ctx_; }
  const lane_config& config() const noexcept { return cfg_; }
  const lane_counters& counters() const noexcept { return ctr_; }
  lane_counters& counters_mut() noexcept { return ctr_; }
  // Why the drive mode asked for is not the one running ("" when it is).
  const std::string& fallback_reason() const noexcept { return fallback_; }

  // What io_context destruction does first (Asio's service shutdown); for tests.
  void shutdown_for_test() { shutdown(); }

  // How a socket's op that is done completes (detail::operation::complete, its one completion
  // function), in one place:
  //   op_done: done from the poll loop (a perform inside interface::poll or a deferred perform): inside
  //     the poll handler it joins the ready list and completes right after interface::poll returns,
  //     still inside the poll handler on the io_context's thread, no post, no second trip through
  //     the scheduler (as Asio's reactor queues the ops it completed during its run and the scheduler
  //     runs them next); anywhere else (manual poll_once(), a looped-back send) it is posted.
  //   post_completion: done inside its initiating function, or aborted by cancel/close/its slot:
  //     completes from a handler posted to the io_context, so never inside the initiating function.
  // Either way the handler then runs through its associated executor (detail::handler_op).
  void op_done(detail::operation* o) noexcept {
    if (!in_poll_handler_) return post_completion(o);
    ready_.push(o);
    ++ctr_.completions;
    ++ctr_.ran_inline;
  }
  void post_completion(detail::operation* o) noexcept;

  // Completions posted and not yet run. While any wait, a busy-poll turn yields instead of polling:
  // the application drains what it was given before the stack takes more frames from the port (NAPI's
  // budget idea), so a slow reader backs up into the NIC's ring (imissed) rather than holding every
  // pool frame in socket queues.
  std::uint64_t completions_waiting() const noexcept { return waiting_; }
  // A posted completion is running (bypass_service.cpp's posted handler).
  void completion_ran() noexcept { --waiting_; }

  // True inside the poll handler's interface::poll and its deferred performs (busy_poll / wait_fd
  // drive; never in manual mode, where poll_once() may be called from outside the io_context): an op
  // done then goes on the ready list (op_done).
  bool in_poll_handler() const noexcept { return in_poll_handler_; }
  // True while the poll handler completes the ready ops. An operation a handler starts then (a receive
  // re-armed from its own handler) is queued, not tried at once, and performed right after that
  // handler returns, still inside the poll handler (defer_perform): it is done outside its initiating
  // function, so it too completes from the ready list instead of being posted.
  bool running_ready() const noexcept { return running_ready_; }
  // always_inline: inlined at each caller (a re-armed receive's start, a batch's first take), as it
  // was with one caller; an out-of-line call here costs ~11 instructions per re-armed receive.
  [[gnu::always_inline]] void defer_perform(socket_hooks* s) {
    for (auto* p : deferred_)
      if (p == s) return;
    deferred_.push_back(s);
  }

  // Sockets register themselves (udp_socket.hpp).
  void add_socket(socket_hooks* s);
  void remove_socket(socket_hooks* s) noexcept;

 private:
  void shutdown() override;
  void post_poll();
  void wait_ready();
  void on_poll();
  void run_ready();

  asio::io_context& ctx_;
  port::any_port* port_ = nullptr;
  lane_config cfg_;
  std::unique_ptr<stack::interface> ifc_;
  std::optional<asio::posix::stream_descriptor> fd_;
  std::optional<asio::steady_timer> timer_;
  bool running_ = false;
  bool poll_posted_ = false;   // one poll handler in flight at a time
  bool shut_down_ = false;
  std::uint64_t waiting_ = 0;
  bool in_poll_handler_ = false;
  bool running_ready_ = false;
  std::vector<socket_hooks*> deferred_;   // sockets with ops queued by a ready op's handler
  detail::op_queue<detail::operation> ready_;   // ops done inside the poll handler, in completion order
  std::string fallback_;
  lane_counters ctr_;
  std::vector<socket_hooks*> sockets_;
};

}  // namespace ringlab::bypass
