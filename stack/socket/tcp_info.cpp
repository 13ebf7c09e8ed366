#include "stack/socket/tcp_info.hpp"

#include <cstdio>
#include <cstring>

namespace ringlab::stack {

const char* ss_state(tcp::state s) noexcept {
  constexpr const char* names[] = {"CLOSE",      "LISTEN",     "SYN-SENT", "SYN-RECV", "ESTAB",    "FIN-WAIT-1",
                                   "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",  "LAST-ACK", "TIME-WAIT"};
  return names[static_cast<std::size_t>(s)];
}

namespace {
std::string str(endpoint e) { return e.addr.to_string() + ":" + std::to_string(e.port); }
double ms_of(time_ns t) { return static_cast<double>(t) / 1e6; }
}  // namespace

std::string to_ss(const tcp_info& i) {
  char buf[512];
  std::string s;
  std::snprintf(buf, sizeof buf, "%-10s %-6zu %-6zu %s %s\n\t", ss_state(i.state), i.recv_queue, i.send_queue,
                str(i.local).c_str(), str(i.remote).c_str());
  s += buf;
  if (i.timestamps) s += " ts";
  if (i.sack) s += " sack";
  if (i.ca_name[0])
    s += " " + std::string(i.ca_name, strnlen(i.ca_name, sizeof i.ca_name));
  else
    s += i.congestion == tcp::congestion_control::cubic ? " cubic" : " reno";
  if (i.snd_wscale || i.rcv_wscale) s += " wscale:" + std::to_string(i.snd_wscale) + "," + std::to_string(i.rcv_wscale);
  // ss prints ms with up to three decimals (%g) and the window in segments.
  const std::uint32_t mss = i.mss ? i.mss : 1;
  std::snprintf(buf, sizeof buf, " rto:%g rtt:%g/%g mss:%u cwnd:%u", ms_of(i.rto), ms_of(i.srtt), ms_of(i.rttvar),
                unsigned{i.mss}, i.cwnd / mss);
  s += buf;
  if (i.ssthresh != 0xffffffffu) s += " ssthresh:" + std::to_string(i.ssthresh / mss);
  s += " bytes_acked:" + std::to_string(i.bytes_acked) + " bytes_received:" + std::to_string(i.bytes_received);
  s += " segs_out:" + std::to_string(i.segs_out) + " segs_in:" + std::to_string(i.segs_in);
  if (i.unacked) s += " unacked:" + std::to_string((i.unacked + mss - 1) / mss);
  // ss: retrans:tcpi_retrans/tcpi_total_retrans (in flight again now / all), when either is non-zero.
  if (i.retrans_out || i.retrans) s += " retrans:" + std::to_string(i.retrans_out) + "/" + std::to_string(i.retrans);
  return s;
}

}  // namespace ringlab::stack
