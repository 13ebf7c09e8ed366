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
      timers_(cfg_.arp.entries + cfg_.fragments.max_datagrams + igmp_membership::max_groups + 1),
      rx_(port, cfg_, frames_, out_, sockets_, igmp_, timers_, tcp_),
      out_(port, cfg_, rx_.counters(), frames_, timers_),
      igmp_(cfg_, rx_.counters(), out_, sockets_, frames_, timers_),
      tcp_(cfg_, rx_.counters(), sockets_, out_, timers_, frames_),
      host_{cfg_, rx_.counters(), sockets_, out_, igmp_, frames_},
      tcp_host_{cfg_, tcp_} {
  out_.set_loopback(rx_);
}

interface::~interface() {
  const auto socks = sockets_.udp();
  for (udp_socket* s : socks) s->close();
}

time_ns interface::poll(time_ns now) noexcept {
  frames_.set_now(now);
  const bool full = rx_.run_burst(now);
  tcp_.end_burst(now);   // the ACKs the burst's segments owe: one per connection (tcp_lane::end_burst)
  run_timers(now);
  // A full burst: more frames may wait in the ring, so ask to be polled again at once.
  return full ? now : next_deadline();
}

// ---------------------------------------------------------------- timers
// One timer_queue for the lane (timer_queue.hpp): ip_output's ARP cache, rx_pipeline's reassembler and
// igmp_host's membership arm their timers in it with hooks back to their owners; poll runs what is due.

time_ns interface::next_deadline() const noexcept { return timers_.next_deadline(); }

void interface::run_timers(time_ns now) noexcept { timers_.run(now); }

}  // namespace ringlab::stack
