#pragma once
// stack::tcp_listener: a listening TCP endpoint of one stack::interface (one lane, one thread).
//
//   SYN ─► a new entry (the table owns it), SYN_RECEIVED: the SYN queue (half-open, at most `backlog`)
//   handshake ACK ─► ESTABLISHED: the accept queue (at most `backlog`; full: the ACK is dropped,
//                    ListenOverflows, and the peer's retransmission tries again, as Linux does)
//   accept() ─► a tcp_socket that owns the connection from then on
// A SYN that finds either queue full goes to tcp_lane::on_listen_queue_full: with the SYN queue full
// (and the accept queue not), a SYN cookie answers (RFC 4987 3.6; syn_cookies(), on by default as
// Linux's tcp_syncookies = 1) and its ACK becomes a connection straight into the accept queue.
// A connection reset (or timed out) after its handshake and before accept() stays in the accept
// queue, as in Linux: accept() returns it and its first read or write reports connection_reset (or
// timed_out); one that fails during the handshake (SYN_RECEIVED) is freed.
// close() (and the destructor) unbinds and resets the connections not yet accepted.
#include <cstddef>
#include <deque>
#include <memory>
#include <system_error>

#include "stack/socket/endpoint.hpp"
#include "stack/socket/tcp_host.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "stack/tcp/connection.hpp"
#include "stack/tcp/syn_cookie.hpp"

namespace ringlab::stack {

class interface;
struct tcp_entry;

class tcp_listener {
 public:
  explicit tcp_listener(interface& ifc, const tcp::connection_config& cfg = {});   // cfg: accepted connections'
  explicit tcp_listener(tcp_host& host, const tcp::connection_config& cfg = {});
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;
  ~tcp_listener();

  std::error_code bind(endpoint local) noexcept;
  std::error_code listen(std::size_t backlog) noexcept;   // bounds the SYN queue and the accept queue
  // The next established connection (the caller owns the socket), or would_block.
  std::error_code accept(std::unique_ptr<tcp_socket>& out) noexcept;
  std::size_t pending() const noexcept { return ready_.size(); }   // established, not yet accepted
  void set_events(tcp_socket::event_fn fn, void* ctx) noexcept { ev_ = fn, ev_ctx_ = ctx; }
  // Off: a SYN that finds the SYN queue full is dropped (ListenDrops) instead of answered with a cookie.
  void set_syn_cookies(bool on) noexcept { syn_cookies_ = on; }
  bool syn_cookies() const noexcept { return syn_cookies_; }
  void close() noexcept;
  endpoint local_endpoint() const noexcept { return local_; }
  bool listening() const noexcept { return listening_; }

  // ---- for the lane (not the application's)
  const tcp::connection_config& config() const noexcept { return cfg_; }
  std::size_t backlog() const noexcept { return backlog_; }
  std::size_t half_open() const noexcept { return half_open_; }
  void syn_added() noexcept { ++half_open_; }
  // A cookie went out at `now`; an ACK for no connection is checked as a cookie only while one may
  // still be good (Linux's tcp_synq_no_recent_overflow), so stray ACKs cost no hash and no counter.
  void cookie_sent(time_ns now) noexcept { last_cookie_ = now; }
  bool cookies_recent(time_ns now) const noexcept {
    return last_cookie_ != never && now - last_cookie_ < tcp::syn_cookie::max_age * tcp::syn_cookie::period;
  }
  void syn_gone() noexcept { --half_open_; }
  void push_ready(tcp_entry& e) { ready_.push_back(&e); }
  void remove_ready(tcp_entry& e) noexcept;
  void notify(unsigned events) noexcept {
    if (ev_ && events) ev_(ev_ctx_, events);
  }

 private:
  tcp_host* host_;
  tcp::connection_config cfg_;
  endpoint local_;
  bool open_ = true, bound_ = false, listening_ = false, syn_cookies_ = true;
  time_ns last_cookie_ = never;
  std::size_t backlog_ = 0, half_open_ = 0;
  std::deque<tcp_entry*> ready_;   // the accept queue, oldest first
  tcp_socket::event_fn ev_ = nullptr;
  void* ev_ctx_ = nullptr;
};

}  // namespace ringlab::stack
