#pragma once
// stack::tcp_lane: TCP on one lane (one interface, one thread): what runs between the wire and the
// engines, and between the engines and the sockets.
//
//   rx_pipeline ─► receive(segment)                                 tcp_socket / tcp_listener
//                   view check, checksum (the port's flags or ours),     │ open / send / receive /
//                   repr, 4-tuple ─► tcp_entry ─► connection.on_segment   │ shutdown / abort / release
//                             else ─► listener: SYN ─► new entry ─► connection.accept
//                             else ─► RST (RFC 9293 3.10.7.1), no_socket
//                                        │
//   every engine call goes through run(): ─► segments out: emit() ─► ip_output (IPv4 + Ethernet, ARP)
//                                         ─► settle(): lane counters by state change, the entry's ONE
//                                            timer re-armed to next_deadline(), listener queues,
//                                            orphans freed at CLOSED, then the socket's event hook
//   timer_queue ─► on_timer(entry) ─► run(connection.on_timer)
//
// Events (the hook of tcp_socket / tcp_listener) fire only from segment and timer processing, never
// inside the application's own call (send, receive, close ...), and always as the last thing done:
// the hook may send, receive, accept, close or destroy its socket.
//
// Payload is copied by the engine into its receive buffer: a received frame is never kept. Every
// segment dropped is answered with a trace::drop_reason, which rx_pipeline counts and traces with the
// packet id at hop::tcp; tcp_lane_counters (nstat's names) count the same segments by TCP's rules.
//
// Loopback: a segment to the interface's own address never reaches ip_output (whose loopback would
// hand it back inside the sending engine's call); it is queued and received after the engine call that
// sent it returned (drain_loop), like a softirq's backlog. Its drops are counted in the interface's
// counters and traced at hop::tcp without a packet id (it had no frame).
// SYN cookies: a SYN that finds the listener's SYN queue full is answered by on_listen_queue_full with
// a cookie (stack/tcp/syn_cookie) and no state.
#include <cstddef>
#include <deque>
#include <span>
#include <system_error>
#include <type_traits>
#include <vector>

#include "stack/iface/interface_config.hpp"
#include "stack/iface/socket_table.hpp"
#include "stack/iface/tcp_entry.hpp"
#include "stack/iface/time.hpp"
#include "stack/iface/timer_queue.hpp"
#include "stack/socket/tcp_lane_counters.hpp"
#include "stack/socket/tcp_secret.hpp"
#include "stack/tcp/connection.hpp"
#include "stack/tcp/syn_cookie.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/tcp.hpp"
#include "trace/trace.hpp"

namespace ringlab::stack {

class frame_releaser;
class ip_output;
class tcp_listener;
class tcp_socket;

class tcp_lane {
 public:
  tcp_lane(const interface_config& cfg, interface_counters& ctr, socket_table& sockets, ip_output& out,
           timer_queue& timers, frame_releaser& frames);
  tcp_lane(const tcp_lane&) = delete;
  tcp_lane& operator=(const tcp_lane&) = delete;

  // ---- from rx_pipeline: one TCP segment (the IPv4 payload) of a frame addressed to us.
  struct segment_in {
    wire::ipv4_addr src, dst;
    std::span<const std::byte> bytes;
    bool csum_good = false;   // the device vouched for the checksum
    bool csum_bad = false;    // the device found it wrong
    bool burst = false;       // part of an rx burst: end_burst() follows it (see below)
  };
  // none: a connection or a listener took it; else why it was dropped (the caller counts and traces).
  trace::drop_reason receive(const segment_in& s, time_ns now) noexcept;
  // After the rx burst whose segments came with `burst` set: each connection they reached sends the
  // ACK it still owes, one per connection per burst (tcp::connection::begin_burst, as GRO and the
  // delayed ACK give Linux one ACK per NAPI poll of a bulk flow). Inline: a burst that reached no
  // connection (UDP) pays one compare.
  void end_burst(time_ns now) noexcept {
    if (!burst_.empty()) end_burst_now(now);
  }

  // ---- from sockets: none of these fires an event.
  // Active open of `s` from local (port 0: ephemeral; addr any(): ours) to remote: SYN out.
  std::error_code open(tcp_socket& s, endpoint local, endpoint remote, const tcp::connection_config& cfg,
                       time_ns now, tcp_entry*& out) noexcept;
  std::size_t send(tcp_entry& e, std::span<const std::byte> data, time_ns now) noexcept;
  std::size_t receive(tcp_entry& e, std::span<std::byte> buf, time_ns now) noexcept;
  void shutdown(tcp_entry& e, time_ns now) noexcept;   // FIN after the queued bytes
  void abort(tcp_entry& e, time_ns now) noexcept;      // RST
  // The socket lets go of its entry: a closed one is freed; a live one becomes an orphan that closes
  // gracefully (FIN), or with RST when received bytes were never read (RFC 2525 2.17, as Linux does).
  void release(tcp_entry& e, time_ns now) noexcept;
  // After the application changed an option (Nagle, keepalive): send what may go, re-arm the timer.
  void changed(tcp_entry& e, time_ns now) noexcept;
  // A listener closes: its half-open and not-yet-accepted connections are reset and freed.
  void close_listener(tcp_listener& l, time_ns now) noexcept;

  // The lane's latest time (the last poll's): for calls that carry none (destructors, options).
  time_ns now() const noexcept;
  socket_table& sockets() noexcept { return sockets_; }
  const tcp_secret& secret() const noexcept { return secret_; }
  // Live connections plus retired ones plus the lane's own, as of now (tcp_lane_counters.hpp).
  const tcp_lane_counters& counters() const noexcept;

 private:
  struct before {   // what settle() compares against: the entry before the engine call
    tcp::state st;
    std::size_t readable, room;
    bool peer_closed;
  };
  static before snap(const tcp_entry& e) noexcept {
    return {e.conn.current(), e.conn.readable(), e.conn.send_room(), e.conn.peer_closed()};
  }
  // THE way into an engine: the call with a sink that emits through ip_output, then settle().
  template <class F>
  auto run(tcp_entry& e, time_ns now, bool events, F&& f) noexcept {
    const before b = snap(e);
    auto out = [this, &e, now](const auto& r) { this->emit(e.key, r, now); };   // a repr or a segment_train
    if constexpr (std::is_void_v<decltype(f(e.conn, tcp::segment_sink(out)))>) {
      f(e.conn, tcp::segment_sink(out));
      settle(e, b, now, events);
      drain_loop(now);
    } else {
      const auto r = f(e.conn, tcp::segment_sink(out));
      settle(e, b, now, events);   // may free e: nothing of it is read after
      drain_loop(now);
      return r;
    }
  }
  // Receives the looped-back segments queued so far (and those they cause), unless already doing so.
  void drain_loop(time_ns now) noexcept {
    if (!looped_.empty() && !draining_) drain_loop_now(now);
  }
  void drain_loop_now(time_ns now) noexcept;
  void end_burst_now(time_ns now) noexcept;
  void settle(tcp_entry& e, const before& b, time_ns now, bool events) noexcept;
  void arm(tcp_entry& e) noexcept;   // the entry's one timer, at conn.next_deadline()
  static void on_timer(void* ctx, std::uint64_t arg, time_ns now) noexcept;
  void free_entry(tcp_entry& e) noexcept;   // timer cancelled, counters retired, out of the table
  void emit(const tcp_key& k, const wire::tcp::repr& r, time_ns now) noexcept;
  // A train (GSO-like): its frames in TX bursts, headers built once per burst (ip_output::send_train).
  void emit(const tcp_key& k, const tcp::segment_train& t, time_ns now) noexcept;
  void tx_failed(const std::error_code& ec, time_ns now) noexcept;   // a segment that could not go: counted, traced
  // RFC 9293 3.10.7.1: the answer to a segment for no connection (never to a RST).
  void reset_for(const tcp_key& k, const wire::tcp::repr& seg, time_ns now) noexcept;

  trace::drop_reason to_connection(tcp_entry& e, const wire::tcp::repr& seg, time_ns now) noexcept;
  trace::drop_reason to_listener(tcp_listener& l, const tcp_key& k, const wire::tcp::repr& seg,
                                 time_ns now) noexcept;
  // A SYN for a listener whose SYN queue or accept queue is full: with only the SYN queue full, a SYN
  // cookie answers (RFC 4987 3.6) and nothing is kept; else dropped and counted.
  trace::drop_reason on_listen_queue_full(tcp_listener& l, const tcp_key& k, const wire::tcp::repr& syn,
                                          time_ns now) noexcept;
  // An ACK for a listener that sent cookies lately: a good cookie makes the connection (ESTABLISHED,
  // into the accept queue), a bad one is answered as any ACK to a listener (RST).
  trace::drop_reason from_cookie(tcp_listener& l, const tcp_key& k, const wire::tcp::repr& ack,
                                 time_ns now) noexcept;
  // A new entry of listener l's for tuple k (a SYN's or a cookie's), or nullptr (the table said no).
  tcp_entry* passive_entry(tcp_listener& l, const tcp_key& k) noexcept;
  // RFC 6191: a SYN for a TIME_WAIT 4-tuple that a listener would take; true when the old incarnation
  // made way (the entry is gone or out of the map) and `l` is the listener to take the SYN.
  bool reuse_time_wait(tcp_entry& e, const wire::tcp::repr& syn, tcp_listener*& l) noexcept;
  // RFC 7323 5.4: timestamps offset per address pair (keyed), so a 4-tuple's next incarnation sends
  // larger timestamps than the last (what RFC 6191 reuse checks).
  std::uint32_t ts_offset(const tcp_key& k) const noexcept;

  const interface_config& cfg_;
  interface_counters& ctr_;
  socket_table& sockets_;
  ip_output& out_;
  timer_queue& timers_;
  frame_releaser& frames_;
  tcp_secret secret_;
  tcp::syn_cookie cookies_;     // keyed from the same seed as secret_ (by other means: other keys)
  tcp_lane_counters own_;       // what no connection counts: lane drops, table RSTs, state changes
  tcp_lane_counters retired_;   // the connection counters of freed connections
  mutable tcp_lane_counters snapshot_;
  std::deque<std::vector<std::byte>> looped_;   // segments to our own address, waiting for drain_loop
  bool draining_ = false;
  std::vector<tcp_entry*> burst_;   // connections that took a segment of this rx burst (free_entry keeps it true)
};

}  // namespace ringlab::stack
