#include "stack/socket/tcp_socket.hpp"

#include "stack/iface/interface.hpp"
#include "stack/iface/tcp_entry.hpp"
#include "stack/socket/tcp_lane.hpp"

namespace ringlab::stack {

namespace {
std::error_code errc(std::errc e) noexcept { return std::make_error_code(e); }
const tcp::connection_counters no_counters{};
}  // namespace

tcp_socket::tcp_socket(interface& ifc, const tcp::connection_config& cfg) : tcp_socket(ifc.tcp_host(), cfg) {}

tcp_socket::tcp_socket(tcp_host& host, const tcp::connection_config& cfg) : host_(&host), cfg_(cfg) {}

tcp_socket::~tcp_socket() { close(host_->lane.now()); }

std::error_code tcp_socket::bind(endpoint local) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (bound_ || entry_) return errc(std::errc::invalid_argument);   // as bind(2) on a bound socket
  if (auto ec = host_->lane.sockets().bind_tcp(this, local); ec) return ec;
  local_ = local;
  bound_ = true;
  return {};
}

std::error_code tcp_socket::connect(endpoint remote, time_ns now) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (entry_) {
    const tcp::state s = entry_->conn.current();
    if (s == tcp::state::syn_sent) return errc(std::errc::connection_already_in_progress);
    if (s != tcp::state::closed) return errc(std::errc::already_connected);
    // A connection that ended (refused, reset, timed out) may be tried again, as Linux allows.
    tcp_entry* old = entry_;
    old->conn.take_posted();
    entry_ = nullptr;
    host_->lane.release(*old, now);
    shut_send_ = false;
  }
  if (remote.port == 0 || remote.addr.is_unspecified() || remote.addr.is_multicast() || remote.addr.is_broadcast() ||
      remote.addr == host_->config.directed_broadcast())
    return errc(std::errc::invalid_argument);
  remote_ = remote;
  if (auto ec = host_->lane.open(*this, local_, remote, cfg_, now, entry_); ec) {
    remote_ = {};
    return ec;
  }
  local_ = entry_->key.local;
  return {};
}

tcp_socket::io_result tcp_socket::send(std::span<const std::byte> data, time_ns now) noexcept {
  if (!open_) return {0, errc(std::errc::bad_file_descriptor)};
  if (!entry_) return {0, errc(std::errc::not_connected)};
  const tcp::state s = entry_->conn.current();
  if (s == tcp::state::closed) {
    const auto ec = error();
    return {0, ec ? ec : errc(std::errc::broken_pipe)};
  }
  if (s == tcp::state::syn_sent || s == tcp::state::syn_received) return {0, errc(std::errc::operation_would_block)};
  // After our FIN (shutdown_send, or FIN_WAIT / CLOSING / LAST_ACK / TIME_WAIT) nothing more goes.
  if (shut_send_ || (s != tcp::state::established && s != tcp::state::close_wait)) return {0, errc(std::errc::broken_pipe)};
  if (data.empty()) return {};
  const std::size_t n = host_->lane.send(*entry_, data, now);
  if (n == 0) return {0, errc(std::errc::operation_would_block)};
  return {n, {}};
}

tcp_socket::io_result tcp_socket::receive(std::span<std::byte> buf, time_ns now) noexcept {
  if (!open_) return {0, errc(std::errc::bad_file_descriptor)};
  if (!entry_) return {0, errc(std::errc::not_connected)};
  if (entry_->conn.readable() > 0 && !buf.empty()) return {host_->lane.receive(*entry_, buf, now), {}};
  if (entry_->conn.peer_closed()) return {};   // EOF
  if (entry_->conn.current() == tcp::state::closed) {
    const auto ec = error();
    if (ec) return {0, ec};
    return {};   // closed cleanly (or aborted by us): nothing more will come
  }
  if (buf.empty()) return {};
  return {0, errc(std::errc::operation_would_block)};
}

void tcp_socket::post_read(std::span<std::byte> buf) noexcept {
  if (entry_) entry_->conn.post_read(buf);
}

std::size_t tcp_socket::take_posted() noexcept { return entry_ ? entry_->conn.take_posted() : 0; }

std::error_code tcp_socket::shutdown_send(time_ns now) noexcept {
  if (!open_) return errc(std::errc::bad_file_descriptor);
  if (!entry_) return errc(std::errc::not_connected);
  const tcp::state s = entry_->conn.current();
  if (s == tcp::state::syn_sent || s == tcp::state::closed) return errc(std::errc::not_connected);
  shut_send_ = true;
  host_->lane.shutdown(*entry_, now);
  return {};
}

void tcp_socket::let_go(time_ns now) noexcept {
  if (entry_) {
    tcp_entry* e = entry_;
    e->conn.take_posted();   // the posted buffer is the application's: an orphan must not write to it
    entry_ = nullptr;
    host_->lane.release(*e, now);
  }
  if (bound_) host_->lane.sockets().unbind_tcp(this);
  bound_ = false;
  shut_send_ = true;
  open_ = false;
}

void tcp_socket::close(time_ns now) noexcept {
  if (!open_) return;
  let_go(now);
}

void tcp_socket::abort(time_ns now) noexcept {
  if (!open_) return;
  if (entry_ && entry_->conn.current() != tcp::state::closed) host_->lane.abort(*entry_, now);
  let_go(now);
}

tcp::state tcp_socket::state() const noexcept { return entry_ ? entry_->conn.current() : tcp::state::closed; }

bool tcp_socket::connected() const noexcept {
  const auto s = state();
  return s != tcp::state::closed && s != tcp::state::listen && s != tcp::state::syn_sent && s != tcp::state::syn_received;
}

bool tcp_socket::peer_closed() const noexcept {
  return entry_ && entry_->conn.peer_closed() && entry_->conn.readable() == 0;
}

std::size_t tcp_socket::available() const noexcept { return entry_ ? entry_->conn.readable() : 0; }

std::size_t tcp_socket::send_room() const noexcept {
  return entry_ && !shut_send_ && connected() ? entry_->conn.send_room() : 0;
}

std::error_code tcp_socket::error() const noexcept {
  if (!entry_) return {};
  switch (entry_->conn.reason()) {
    case tcp::close_reason::refused: return errc(std::errc::connection_refused);
    case tcp::close_reason::reset: return errc(std::errc::connection_reset);
    case tcp::close_reason::timed_out: return errc(std::errc::timed_out);
    case tcp::close_reason::none:
    case tcp::close_reason::aborted: return {};
  }
  return {};
}

void tcp_socket::set_no_delay(bool on) noexcept {
  cfg_.nagle = !on;
  if (!entry_) return;
  entry_->conn.set_nagle(!on);
  host_->lane.changed(*entry_, host_->lane.now());
}

void tcp_socket::set_keepalive(bool on, time_ns idle) noexcept {
  const time_ns t = on ? (idle ? idle : 2 * 3600 * sec) : 0;
  cfg_.keepalive_idle = t;
  if (!entry_) return;
  entry_->conn.set_keepalive(t);
  host_->lane.changed(*entry_, host_->lane.now());
}

const tcp::connection_counters& tcp_socket::counters() const noexcept {
  return entry_ ? entry_->conn.counters() : no_counters;
}

tcp_info tcp_socket::info() const noexcept {
  tcp_info i;
  i.local = local_;
  i.remote = remote_;
  if (!entry_) return i;
  const tcp::connection& c = entry_->conn;
  i.state = c.current();
  i.recv_queue = c.readable();
  i.send_queue = c.unacked();
  i.unacked = c.snd_nxt() - c.snd_una();
  i.mss = c.send_mss();
  i.cwnd = c.cwnd();
  i.ssthresh = c.ssthresh();
  i.send_window = c.send_window();
  i.srtt = c.srtt();
  i.rttvar = c.rttvar();
  i.rto = c.rto();
  i.snd_wscale = c.send_scale();
  i.rcv_wscale = c.recv_scale();
  i.timestamps = c.timestamps_on();
  i.sack = c.sack_on();
  i.congestion = cfg_.congestion;
  i.retrans = c.counters().retrans_segs;
  // Linux's retrans_out: retransmitted segments neither acknowledged, SACKed nor marked lost again.
  const tcp::rack& r = c.rack_state();
  for (std::size_t k = 0; k < r.size(); ++k)
    i.retrans_out += (r[k].flags & (tcp::rack::retransmitted | tcp::rack::sacked | tcp::rack::lost)) == tcp::rack::retransmitted;
  i.bytes_acked = c.counters().bytes_acked;
  i.bytes_received = c.counters().bytes_received;
  i.segs_in = c.counters().in_segs;
  i.segs_out = c.counters().out_segs;
  return i;
}

void tcp_socket::adopt(tcp_entry& e) noexcept {
  entry_ = &e;
  e.owner = this;
  e.listener = nullptr;
  local_ = e.key.local;
  remote_ = e.key.remote;
}

}  // namespace ringlab::stack
