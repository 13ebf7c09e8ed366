#pragma once
// tcp_analysis: tshark's reading of one host's capture (tests/netsim/tcp_hosts/two_hosts.hpp: that
// host's segments before the wire's faults, the peer's after them), one tshark run, fields only, and
// the verdict the tests assert on: which tcp.analysis flags appeared on whose segments, and whether
// any segment this host sent breaks the protocol.
//
// Which flags, on a segment WE sent, are a protocol violation by us, and which are what a faulty
// wire makes a correct TCP do (README.md says the same):
//
//   violation (must never appear on our segments)
//     tcp.analysis.lost_segment       a gap in our own sequence numbers. Our transmit side is captured
//                                     whole before the wire, so a gap means we skipped bytes.
//     tcp.analysis.ack_lost_segment   we acknowledged bytes that never reached us. Our receive side is
//                                     captured whole before the stack reads it. Checked against the
//                                     capture: tshark also flags an ACK of bytes that came only in a
//                                     segment it called a retransmission (one overlapping what we had
//                                     and carrying new bytes, e.g. a tail-loss probe resending the last
//                                     MSS after its first ACK was lost), as it never advances its
//                                     expected sequence on one; our ACK is a violation only past the
//                                     highest byte (or FIN) the peer's intact segments brought us.
//     tcp.analysis.reused_ports       a second SYN with another ISN on the 4-tuple: one connection per run.
//     tcp.analysis.keep_alive         keep-alive is off in these runs; a segment one byte below SND.NXT
//                                     with at most one byte is not one we should make.
//     bad TCP or IPv4 checksum        (tshark checks both here), and malformed frames.
//     data past the peer's window     not a tshark flag: checked from tshark's fields. Every byte we
//                                     send lies below the highest right edge (ACK + scaled window) the
//                                     peer announced before it, zero-window probes excepted.
//   expected under loss, reordering and duplication (never on the clean wire)
//     tcp.analysis.retransmission, fast_retransmission, spurious_retransmission, out_of_order on our
//     data: repairs. tshark calls a repair "out-of-order" when it follows our newest segment within an
//     RTT, and "spurious" when the capture shows the ACK covering it first, which a burst does: the
//     tap writes a whole RX burst before the stack reads it, so a retransmission decided on the
//     burst's first ACK lands in the file after the burst's later ACKs.
//     tcp.analysis.duplicate_ack on our ACKs: our receiver reporting a hole or a duplicate.
//     On the PEER's segments in our capture: lost_segment (the wire dropped one of theirs),
//     retransmission and friends (their repairs, the wire's duplicates).
//   fine anywhere
//     tcp.analysis.window_update, window_full (we filled the window the peer gave, exactly),
//     zero_window, zero_window_probe, zero_window_probe_ack (flow control doing its job).
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/netsim/tcp_hosts/capture.hpp"

namespace ringlab::netsim {

class tcp_analysis {
 public:
  static constexpr const char* flag_names[] = {
      "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment",
      "ack_lost_segment", "duplicate_ack", "window_update", "window_full", "zero_window", "zero_window_probe",
      "zero_window_probe_ack", "keep_alive", "keep_alive_ack", "reused_ports"};
  static constexpr const char* violation_flags[] = {"lost_segment", "ack_lost_segment", "reused_ports", "keep_alive"};

  struct segment {
    std::uint64_t frame = 0;
    bool ours = false;             // sent by the capturing host
    std::uint64_t seq = 0, len = 0, ack = 0, window = 0;   // relative numbers, window scaled
    bool syn = false, fin = false, has_ack = false;
    bool tcp_csum_good = true, ip_csum_good = true;   // as tshark computed them
    bool to_us = false;            // Ethernet and IPv4 destination are the capturing host's
    bool malformed = false;
    std::set<std::string> flags;   // tcp.analysis.* names, without the prefix
  };

  // Runs tshark over `pcap`; `me` is the capturing host's IPv4 address (dotted), `port` the service's
  // TCP port, whose payload tshark reads as plain data (8080 would be HTTP, and our streams' random
  // bytes malformed HTTP). ok() false: tshark failed (error() says how).
  tcp_analysis(const std::string& pcap, const std::string& me, const std::string& my_mac, std::uint16_t port) {
    std::string cmd = "tshark -r '" + pcap + "' -d tcp.port==" + std::to_string(port) + ",data" +
                      " -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE"
                      " -o tcp.relative_sequence_numbers:TRUE -o tcp.analyze_sequence_numbers:TRUE"
                      " -Y tcp -T fields -E separator=/t -E occurrence=f"
                      " -e frame.number -e ip.src -e tcp.seq -e tcp.len -e tcp.ack -e tcp.window_size"
                      " -e tcp.flags.syn -e tcp.flags.ack -e tcp.checksum.status -e ip.checksum.status -e _ws.malformed"
                      " -e eth.dst -e ip.dst -e tcp.flags.fin";
    for (const char* f : flag_names) cmd += std::string(" -e tcp.analysis.") + f;
    cmd += " 2>&1";
    auto [rc, out] = run_command(cmd);
    if (rc != 0) {
      error_ = "tshark exited " + std::to_string(rc) + ": " + out.substr(0, 400);
      return;
    }
    constexpr std::size_t fixed = 14;
    for (const auto& c : tshark_rows(out, fixed + std::size(flag_names))) {
      if (c[0].empty() || c[0].find_first_not_of("0123456789") != std::string::npos) continue;   // a warning line
      segment s;
      s.frame = num(c[0]);
      s.ours = c[1] == me;
      s.seq = num(c[2]);
      s.len = num(c[3]);
      s.ack = num(c[4]);
      s.window = num(c[5]);
      s.syn = c[6] == "1" || c[6] == "True";
      s.has_ack = c[7] == "1" || c[7] == "True";
      s.tcp_csum_good = c[8] == "1";
      s.ip_csum_good = c[9] == "1";
      s.malformed = !c[10].empty();
      s.to_us = c[11] == my_mac && c[12] == me;
      s.fin = c[13] == "1" || c[13] == "True";
      for (std::size_t i = 0; i < std::size(flag_names); ++i)
        if (!c[fixed + i].empty()) s.flags.insert(flag_names[i]);
      segments_.push_back(std::move(s));
    }
  }

  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  const std::vector<segment>& segments() const noexcept { return segments_; }

  // How often each flag appeared on our segments / the peer's.
  std::map<std::string, std::size_t> flag_counts(bool ours) const {
    std::map<std::string, std::size_t> m;
    for (const auto& s : segments_)
      if (s.ours == ours)
        for (const auto& f : s.flags) ++m[f];
    return m;
  }

  // The peer's segments that reached us with an intact IPv4 header (else IPv4 drops them first) and
  // a TCP checksum that does not hold: what TCP must refuse as InErrs (InCsumErrors, or a header so
  // broken that it is refused before the checksum).
  std::size_t corrupted_to_us() const {
    std::size_t n = 0;
    for (const auto& s : segments_) n += !s.ours && s.to_us && s.ip_csum_good && !s.tcp_csum_good;
    return n;
  }

  // One line per violation on a segment we sent (empty: none).
  std::vector<std::string> violations() const {
    std::vector<std::string> v;
    std::uint64_t right_edge = 0;   // the highest ACK + window the peer announced so far (relative)
    bool have_edge = false;
    std::uint64_t peer_high = 0;    // the highest sequence number (+ SYN / FIN) the peer's intact segments brought us
    for (const auto& s : segments_) {
      if (!s.ours) {
        if (s.has_ack && (!have_edge || s.ack + s.window > right_edge)) right_edge = s.ack + s.window, have_edge = true;
        if (s.to_us && s.tcp_csum_good && s.ip_csum_good) peer_high = std::max(peer_high, s.seq + s.len + s.syn + s.fin);
        continue;
      }
      const std::string at = "frame " + std::to_string(s.frame) + ": ";
      for (const char* f : violation_flags)
        if (s.flags.count(f) && !(f == std::string_view("ack_lost_segment") && s.has_ack && s.ack <= peer_high))
          v.push_back(at + "tcp.analysis." + f);
      if (!s.tcp_csum_good || !s.ip_csum_good) v.push_back(at + "bad checksum");
      if (s.malformed) v.push_back(at + "malformed");
      if (s.len > 0 && !s.syn && have_edge && s.seq + s.len > right_edge && !s.flags.count("zero_window_probe"))
        v.push_back(at + "data to " + std::to_string(s.seq + s.len) + " past the peer's window edge " +
                    std::to_string(right_edge));
    }
    return v;
  }

 private:
  static std::uint64_t num(const std::string& s) { return s.empty() ? 0 : std::stoull(s); }
  std::vector<segment> segments_;
  std::string error_;
};

}  // namespace ringlab::netsim
