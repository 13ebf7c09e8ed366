#pragma once
// stack::tcp_socket: an application's handle on one TCP connection of one stack::interface (one lane,
// one thread), non-blocking. The connection itself (engine, 4-tuple, timer) is an entry the socket
// table owns (tcp_entry.hpp); the socket holds a pointer to it. close() or the destructor lets go:
// the connection lives on as an ORPHAN that finishes its FIN / TIME_WAIT alone and is freed at CLOSED.
//
// Time is passed in (`now`, the port's clock). Errors are std::error_code values with the std::errc a
// kernel socket gives: would_block, address_in_use, address_not_available, connection_refused,
// connection_reset, timed_out, not_connected, already_connected, connection_already_in_progress,
// broken_pipe (send after shutdown_send), bad_file_descriptor (closed), invalid_argument.
//
// Events: set_events(fn, ctx) gets ev_* bits on the lane thread after a segment or a timer changed what
// the socket can do (never inside the socket's own calls); the hook may call the socket, or destroy it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "stack/iface/time.hpp"
#include "stack/socket/endpoint.hpp"
#include "stack/socket/tcp_host.hpp"
#include "stack/socket/tcp_info.hpp"
#include "stack/tcp/connection.hpp"

namespace ringlab::stack {

class interface;
struct tcp_entry;

class tcp_socket {
 public:
  explicit tcp_socket(interface& ifc, const tcp::connection_config& cfg = {});
  explicit tcp_socket(tcp_host& host, const tcp::connection_config& cfg = {});
  tcp_socket(const tcp_socket&) = delete;
  tcp_socket& operator=(const tcp_socket&) = delete;
  ~tcp_socket();   // close(): an orphaned connection finishes its FIN / TIME_WAIT alone

  std::error_code bind(endpoint local) noexcept;                    // port 0: ephemeral
  std::error_code connect(endpoint remote, time_ns now) noexcept;   // SYN out; completion via events
  struct io_result {
    std::size_t bytes = 0;
    std::error_code ec;
  };
  // Queues what fits the send buffer; would_block when nothing fits (or while connecting).
  io_result send(std::span<const std::byte> data, time_ns now) noexcept;
  // Bytes; or would_block; or EOF: bytes 0, ec {} and peer_closed() (as read() returning 0).
  io_result receive(std::span<std::byte> buf, time_ns now) noexcept;
  // A pending read's buffer (issue 13 point 6): in-order bytes arriving while none waits go straight
  // into it, not through the receive buffer (tcp::connection::post_read); ev_readable says they did.
  // `buf` stays valid until take_posted(), which returns how many bytes landed at its front and
  // forgets it. Reads that never wait (receive()) need neither.
  void post_read(std::span<std::byte> buf) noexcept;
  std::size_t take_posted() noexcept;
  std::error_code shutdown_send(time_ns now) noexcept;   // FIN after the queued bytes (half-close)
  void close(time_ns now) noexcept;   // FIN (RST when received bytes were never read); the handle closes
  void abort(time_ns now) noexcept;   // RST (SO_LINGER 0); the handle closes

  bool is_open() const noexcept { return open_; }
  tcp::state state() const noexcept;
  bool connected() const noexcept;     // ESTABLISHED or a later synchronized state
  bool peer_closed() const noexcept;   // the peer's FIN arrived and every byte before it was read
  std::size_t available() const noexcept;
  std::size_t send_room() const noexcept;
  std::error_code error() const noexcept;   // why it ended: connection_refused / connection_reset / timed_out
  endpoint local_endpoint() const noexcept { return local_; }
  endpoint remote_endpoint() const noexcept { return remote_; }
  void set_no_delay(bool on) noexcept;
  void set_keepalive(bool on, time_ns idle = 0) noexcept;   // idle 0: 2 hours, Linux's tcp_keepalive_time
  const tcp::connection_counters& counters() const noexcept;
  tcp_info info() const noexcept;

  using event_fn = void (*)(void* ctx, unsigned events) noexcept;
  void set_events(event_fn fn, void* ctx) noexcept { ev_ = fn, ev_ctx_ = ctx; }
  enum : unsigned { ev_readable = 1, ev_writable = 2, ev_connected = 4, ev_closed = 8 };

  // ---- for the lane and the listener (not the application's)
  // Takes over an accepted connection (tcp_listener::accept).
  void adopt(tcp_entry& e) noexcept;
  // The lane's event delivery (settle(): the last thing it does).
  void notify(unsigned events) noexcept {
    if (ev_ && events) ev_(ev_ctx_, events);
  }

 private:
  void let_go(time_ns now) noexcept;   // the entry goes back to the lane (orphan or freed)

  tcp_host* host_;
  tcp::connection_config cfg_;
  tcp_entry* entry_ = nullptr;
  endpoint local_, remote_;
  bool open_ = true;
  bool bound_ = false;      // bind() took a binding in the socket table
  bool shut_send_ = false;  // shutdown_send() or close(): send says broken_pipe
  event_fn ev_ = nullptr;
  void* ev_ctx_ = nullptr;
};

}  // namespace ringlab::stack
