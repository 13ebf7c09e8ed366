#include "tools/tcp_apps/kernel_tcp_info.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ringlab::tcp_apps {

std::optional<stack::tcp_info> kernel_tcp_info(int fd) {
  ::tcp_info k{};
  socklen_t len = sizeof k;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &k, &len) != 0) return std::nullopt;
  stack::tcp_info i;
  using st = ringlab::tcp::state;
  switch (k.tcpi_state) {   // include/net/tcp_states.h
    case 1: i.state = st::established; break;
    case 2: i.state = st::syn_sent; break;
    case 3: i.state = st::syn_received; break;
    case 4: i.state = st::fin_wait_1; break;
    case 5: i.state = st::fin_wait_2; break;
    case 6: i.state = st::time_wait; break;
    case 8: i.state = st::close_wait; break;
    case 9: i.state = st::last_ack; break;
    case 10: i.state = st::listen; break;
    case 11: i.state = st::closing; break;
    default: i.state = st::closed; break;
  }
  i.mss = static_cast<std::uint16_t>(k.tcpi_snd_mss);
  i.cwnd = k.tcpi_snd_cwnd * k.tcpi_snd_mss;
  i.ssthresh = k.tcpi_snd_ssthresh >= 0x7fffffffu ? 0xffffffffu : k.tcpi_snd_ssthresh * k.tcpi_snd_mss;
  i.unacked = k.tcpi_unacked * k.tcpi_snd_mss;
  i.srtt = stack::time_ns{k.tcpi_rtt} * 1000;
  i.rttvar = stack::time_ns{k.tcpi_rttvar} * 1000;
  i.rto = stack::time_ns{k.tcpi_rto} * 1000;
  i.timestamps = k.tcpi_options & TCPI_OPT_TIMESTAMPS;
  i.sack = k.tcpi_options & TCPI_OPT_SACK;
  if (k.tcpi_options & TCPI_OPT_WSCALE) {
    i.snd_wscale = k.tcpi_snd_wscale;
    i.rcv_wscale = k.tcpi_rcv_wscale;
  }
  i.retrans = k.tcpi_total_retrans;
  i.retrans_out = k.tcpi_retrans;
  socklen_t ca_len = sizeof i.ca_name - 1;   // leaves the terminating 0
  if (::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, i.ca_name, &ca_len) != 0) i.ca_name[0] = 0;
  // The tail Linux 4.1-4.2 added; a kernel older than that returns a shorter struct (len says so).
  constexpr auto end_of = [](auto off, auto size) { return static_cast<socklen_t>(off + size); };
  if (len >= end_of(offsetof(::tcp_info, tcpi_bytes_received), sizeof k.tcpi_bytes_received)) {
    i.bytes_acked = k.tcpi_bytes_acked;
    i.bytes_received = k.tcpi_bytes_received;
  }
  if (len >= end_of(offsetof(::tcp_info, tcpi_segs_in), sizeof k.tcpi_segs_in)) {
    i.segs_out = k.tcpi_segs_out;
    i.segs_in = k.tcpi_segs_in;
  }
  return i;
}

}  // namespace ringlab::tcp_apps
