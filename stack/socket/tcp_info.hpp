#pragma once
// stack::tcp_info: one connection as `ss -ti` shows it (Linux's struct tcp_info, the fields we keep),
// and the printer for ss's two lines.
#include <cstddef>
#include <cstdint>
#include <string>

#include "stack/iface/time.hpp"
#include "stack/socket/endpoint.hpp"
#include "stack/tcp/connection.hpp"

namespace ringlab::stack {

struct tcp_info {
  tcp::state state = tcp::state::closed;
  endpoint local, remote;
  std::size_t recv_queue = 0;        // Recv-Q: bytes received, not yet read
  std::size_t send_queue = 0;        // Send-Q: bytes queued, sent or not, not yet acknowledged
  std::uint32_t unacked = 0;         // bytes in flight (SND.NXT - SND.UNA)
  std::uint16_t mss = 0;             // the send MSS (less the timestamp option when on)
  std::uint32_t cwnd = 0;            // bytes
  std::uint32_t ssthresh = 0;        // bytes; 0xffffffff: not yet set (ss omits it)
  std::uint32_t send_window = 0;     // bytes, scaled
  time_ns srtt = 0, rttvar = 0, rto = 0;
  std::uint8_t snd_wscale = 0, rcv_wscale = 0;
  bool timestamps = false, sack = false;
  tcp::congestion_control congestion = tcp::congestion_control::cubic;
  char ca_name[16] = {};             // a kernel socket's TCP_CONGESTION (bbr, ...); empty: `congestion`
  std::uint32_t retrans_out = 0;     // segments sent again and not yet acknowledged (tcpi_retrans)
  std::uint64_t retrans = 0;         // segments sent again (RetransSegs of this connection)
  std::uint64_t bytes_acked = 0, bytes_received = 0;
  std::uint64_t segs_in = 0, segs_out = 0;
};

// ss -ti's two lines: "STATE Recv-Q Send-Q local peer" then, indented, ts sack cubic wscale:s,r
// rto:ms rtt:srtt/rttvar (ms) mss cwnd (segments) ssthresh bytes_acked bytes_received segs_out segs_in
// unacked (segments) retrans:out/total, as ss prints them (fields it would leave out are left out: ssthresh
// before a loss, retrans while zero).
std::string to_ss(const tcp_info& i);
// ss's state names (ESTAB, SYN-SENT, TIME-WAIT, ...).
const char* ss_state(tcp::state s) noexcept;

}  // namespace ringlab::stack
