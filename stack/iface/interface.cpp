#include "stack/iface/interface.hpp"

#include <algorithm>
#include <array>

#include "stack/socket/udp_socket.hpp"

namespace ringlab::stack {

namespace {
interface_config normalized(interface_config cfg) noexcept {
  if (cfg.rx_burst == 0) cfg.rx_burst = 1;
  if (cfg.ephemeral_last < cfg.ephemeral_first) cfg.ephemeral_last = cfg.ephemeral_first;
  return cfg;
}
}  // namespace

interface::interface(port::any_port& port, const interface_config& cfg)
    : port_(port),
      cfg_(normalized(cfg)),
      frames_(port, std::max<std::size_t>(cfg_.rx_burst, 256)),
      sockets_(cfg_),
      rx_(port, cfg_, frames_, out_, sockets_, igmp_),
      out_(port, cfg_, rx_.counters(), frames_),
      igmp_(cfg_, rx_.counters(), out_, sockets_, frames_),
      host_{cfg_, rx_.counters(), sockets_, out_, igmp_, frames_} {
  out_.set_loopback(rx_);
}

interface::~interface() {
  const auto socks = sockets_.udp();
  for (udp_socket* s : socks) s->close();
}

time_ns interface::poll(time_ns now) noexcept {
  frames_.set_now(now);
  const bool full = rx_.run_burst(now);
  run_timers(now);
  // A full burst: more frames may wait in the ring, so ask to be polled again at once.
  return full ? now : next_deadline();
}

// ---------------------------------------------------------------- timers
// Every timer owner of the lane, in one place: what is due at `now` runs here, and next_deadline is
// the earliest of them.

time_ns interface::next_deadline() const noexcept {
  return earliest(earliest(out_.arp().next_deadline(), rx_.fragments().next_deadline()),
                  igmp_.membership().next_deadline());
}

void interface::run_timers(time_ns now) noexcept {
  out_.arp().on_timer(
      now, [&](wire::ipv4_addr ip) { out_.send_arp(1, wire::mac_addr::broadcast(), {}, ip, now); },
      [&](wire::ipv4_addr ip) { out_.unresolved(ip, now); });
  if (const std::size_t n = rx_.fragments().expire(now)) {
    rx_.counters().count_drop(trace::drop_reason::fragment_timeout, n);
    for (std::size_t i = 0; i < n; ++i)
      trace::emit({.t_ns = now, .stage = trace::hop::ipv4_reassembly, .v = trace::verdict::drop,
                   .reason = trace::drop_reason::fragment_timeout});
  }
  igmp_.membership().on_timer(
      now, [&](wire::ipv4_addr g) { igmp_.report(g, now); }, [&] { igmp_.report_all(now); });
}

}  // namespace ringlab::stack
