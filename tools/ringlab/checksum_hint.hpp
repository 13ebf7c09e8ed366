#pragma once
// The hint a bypass run prints when a real port's frames all fail their L4 checksum. On a veth pair
// the kernel leaves a packet's checksum to TX offload (CHECKSUM_PARTIAL) that a NIC would fill in;
// nothing fills it in before AF_XDP copy mode (or DPDK's net_af_xdp) hands the frame to us, so every
// datagram the peer sends arrives with a wrong checksum and counts bad_l4_checksum. The stack is
// right to drop them; the user needs the one command that makes the peer compute them in software.
// The TCP apps (tcp-echo, http-serve, iperf3-server) hang the same way, with the peer's SYNs dropped:
// they check at a timer while they run and at exit. Header-only and free of the rest of the lab, so
// the rule is tested on its own.
#include <cstdint>
#include <string>
#include <string_view>

namespace ringlab::cli {

// Many bad L4 checksums on a real port and not one good datagram: the offload, not a damaged frame
// here and there. Fewer than min_bad proves nothing (a few corrupt frames happen).
inline constexpr std::uint64_t checksum_hint_min_bad = 8;

inline bool checksum_offload_suspected(std::string_view backend, std::uint64_t bad_l4_checksum,
                                       std::uint64_t delivered) noexcept {
  return backend != "sim" && backend != "kernel" && delivered == 0 && bad_l4_checksum >= checksum_hint_min_bad;
}

// TCP retransmits: a connect() that fails its checksum every time sends the same SYN again (1 s, 3 s,
// 7 s, ... after the first; Linux gives up after 7 SYNs in 127 s), so 8 would never come from one
// client. Three SYNs in a row, all bad, none good, is not chance corruption: the hint comes ~3 s in.
inline constexpr std::uint64_t tcp_checksum_hint_min_bad = 3;

inline bool tcp_checksum_offload_suspected(std::string_view backend, std::uint64_t in_segs, std::uint64_t in_errs,
                                           std::uint64_t in_csum_errors) noexcept {
  // Delivered: the segments that passed every check (TcpInSegs counts the bad ones too, TcpInErrs them).
  const std::uint64_t passed = in_segs >= in_errs ? in_segs - in_errs : 0;
  return backend != "sim" && backend != "kernel" && passed == 0 && in_csum_errors >= tcp_checksum_hint_min_bad;
}

namespace detail {
inline std::string checksum_hint_text(std::string_view tool, std::string_view backend, std::uint64_t bad,
                                      std::string_view what) {
  std::string s(tool);
  s.append(": hint: ").append(std::to_string(bad)).append(" ").append(what).append(" on ").append(backend)
      .append(" failed their checksum (bad_l4_checksum) and none was delivered: the sending veth peer leaves "
              "checksums to TX offload, which nothing runs before ")
      .append(backend)
      .append(" takes the frame; turn it off on the peer: ethtool -K PEER tx off (backends/README.md)\n");
  return s;
}
}  // namespace detail

// One line, "" when nothing is suspected. `tool` starts it, as the command's other report lines.
inline std::string checksum_offload_hint(std::string_view tool, std::string_view backend,
                                         std::uint64_t bad_l4_checksum, std::uint64_t delivered) {
  if (!checksum_offload_suspected(backend, bad_l4_checksum, delivered)) return {};
  return detail::checksum_hint_text(tool, backend, bad_l4_checksum, "datagrams");
}

// The same line for a TCP lane, from its nstat counters (TcpInSegs, TcpInErrs, TcpInCsumErrors).
inline std::string tcp_checksum_offload_hint(std::string_view tool, std::string_view backend, std::uint64_t in_segs,
                                             std::uint64_t in_errs, std::uint64_t in_csum_errors) {
  if (!tcp_checksum_offload_suspected(backend, in_segs, in_errs, in_csum_errors)) return {};
  return detail::checksum_hint_text(tool, backend, in_csum_errors, "TCP segments");
}

}  // namespace ringlab::cli
