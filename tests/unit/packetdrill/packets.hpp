#pragma once
// IPv4 packets (no Ethernet: what packetdrill's netdev_send gives and netdev_receive takes) built and
// read with the lab's own wire code, for the packetdrill tests.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "stack/wire/tcp.hpp"
#include "stack/wire/wire.hpp"

namespace ringlab::packetdrill::testing {

using bytes = std::vector<std::byte>;

// packetdrill's defaults (config.c): the remote and the local address.
inline constexpr wire::ipv4_addr remote_ip{192, 0, 2, 1};
inline constexpr wire::ipv4_addr local_ip{192, 168, 0, 1};

inline bytes text(std::string_view s) {
  bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

// An IPv4 header (DF, TTL 64, no options) in front of l4 bytes.
inline bytes ipv4_packet(wire::ipv4_addr src, wire::ipv4_addr dst, std::uint8_t proto, std::span<const std::byte> l4,
                         std::uint16_t ident = 0) {
  bytes p(wire::ipv4::min_header_len + l4.size());
  wire::ipv4::repr{.src = src, .dst = dst, .proto = proto, .payload_len = static_cast<std::uint16_t>(l4.size()),
                   .ident = ident}
      .emit(p);
  std::copy(l4.begin(), l4.end(), p.begin() + wire::ipv4::min_header_len);
  return p;
}

inline bytes icmp_echo(wire::ipv4_addr src, wire::ipv4_addr dst, std::uint16_t ident, std::uint16_t seq,
                       std::span<const std::byte> data) {
  bytes m(wire::icmp::header_len + data.size());
  wire::icmp::repr{.kind = wire::icmp::type::echo_request, .ident = ident, .seq_no = seq, .data = data}.emit(m);
  return ipv4_packet(src, dst, static_cast<std::uint8_t>(wire::ipv4::protocol::icmp), m);
}

// A TCP segment from src to dst inside IPv4, checksummed.
inline bytes tcp_packet(wire::ipv4_addr src, wire::ipv4_addr dst, const wire::tcp::repr& seg) {
  bytes s(seg.buffer_len());
  seg.emit(s, src, dst);
  return ipv4_packet(src, dst, wire::tcp::ip_protocol, s);
}

}  // namespace ringlab::packetdrill::testing
