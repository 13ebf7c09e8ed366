#pragma once
// Frames for the stack tests, written with the lab's own wire code (docs/machine-findings.md: no scapy). Header
// fields wire's reprs do not cover (fragment offsets, broken checksums) are patched by hand here.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stack/wire/wire.hpp"

namespace ringlab::stack::testing {

using bytes = std::vector<std::byte>;

inline const wire::mac_addr me_mac{0x02, 0, 0, 0, 0, 0x02};
inline const wire::mac_addr peer_mac{0x02, 0, 0, 0, 0, 0x01};
inline const wire::ipv4_addr me_ip{10, 0, 0, 2};
inline const wire::ipv4_addr peer_ip{10, 0, 0, 1};

inline bytes from_hex(std::string_view h) {
  bytes out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(std::byte(nib(h[i]) << 4 | nib(h[i + 1])));
  return out;
}
inline std::string to_hex(std::span<const std::byte> b) {
  static constexpr char d[] = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s += d[std::to_integer<int>(x) >> 4];
    s += d[std::to_integer<int>(x) & 15];
  }
  return s;
}
inline bytes text(std::string_view s) {
  bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

inline bytes eth(wire::mac_addr src, wire::mac_addr dst, wire::ethernet::ethertype t, std::span<const std::byte> payload) {
  bytes f(wire::ethernet::header_len + payload.size());
  wire::ethernet::repr{src, dst, t, {}, 0}.emit(f);
  std::memcpy(f.data() + wire::ethernet::header_len, payload.data(), payload.size());
  return f;
}

inline bytes arp(wire::arp::operation op, wire::mac_addr sha, wire::ipv4_addr spa, wire::mac_addr tha,
                 wire::ipv4_addr tpa, wire::mac_addr l2_dst) {
  bytes p(wire::arp::packet_len);
  wire::arp::repr{op, sha, spa, tha, tpa}.emit(p);
  return eth(sha, l2_dst, wire::ethernet::ethertype::arp, p);
}

// An Ethernet + IPv4 frame around l4 bytes; DF set, no options.
inline bytes ipv4(wire::ipv4_addr src, wire::ipv4_addr dst, std::uint8_t proto, std::span<const std::byte> l4,
                  std::uint16_t ident = 7, wire::mac_addr l2_src = peer_mac, wire::mac_addr l2_dst = me_mac) {
  bytes p(wire::ipv4::min_header_len + l4.size());
  wire::ipv4::repr{src, dst, proto, static_cast<std::uint16_t>(l4.size()), 64, 0, ident, true}.emit(p);
  // std::copy, not memcpy: GCC 12 at -O3 (-Wstringop-overflow) cannot tell l4.size() fits the vector.
  std::copy(l4.begin(), l4.end(), p.begin() + wire::ipv4::min_header_len);
  return eth(l2_src, l2_dst, wire::ethernet::ethertype::ipv4, p);
}

inline bytes udp_l4(wire::ipv4_addr src, wire::ipv4_addr dst, std::uint16_t sport, std::uint16_t dport,
                    std::span<const std::byte> payload) {
  bytes u(wire::udp::header_len + payload.size());
  wire::udp::repr{sport, dport, payload}.emit(u, src, dst);
  return u;
}

inline bytes udp(wire::ipv4_addr src, wire::ipv4_addr dst, std::uint16_t sport, std::uint16_t dport,
                 std::span<const std::byte> payload, std::uint16_t ident = 7) {
  const auto l2_dst = dst.is_multicast() ? wire::multicast_mac(dst) : dst.is_broadcast() ? wire::mac_addr::broadcast() : me_mac;
  return ipv4(src, dst, wire::udp::ip_protocol, udp_l4(src, dst, sport, dport, payload), ident, peer_mac, l2_dst);
}

// Fragments of one IPv4 datagram carrying l4: pieces given as (offset, length) in bytes.
inline std::vector<bytes> fragments(wire::ipv4_addr src, wire::ipv4_addr dst, std::uint8_t proto,
                                    std::span<const std::byte> l4, std::uint16_t ident,
                                    std::vector<std::pair<std::size_t, std::size_t>> pieces) {
  std::vector<bytes> out;
  for (auto [off, len] : pieces) {
    bytes f = ipv4(src, dst, proto, l4.subspan(off, len), ident);
    std::byte* ip = f.data() + wire::ethernet::header_len;
    const bool more = off + len < l4.size();
    wire::store_be16(ip + 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | (off / 8)));
    wire::store_be16(ip + 10, 0);
    wire::store_be16(ip + 10, wire::checksum::compute({ip, wire::ipv4::min_header_len}));
    out.push_back(std::move(f));
  }
  return out;
}

inline bytes igmp_query(wire::ipv4_addr group, std::uint8_t max_resp_code, int version) {
  wire::igmp::repr q;
  q.kind = wire::igmp::type::membership_query;
  q.version = static_cast<std::uint8_t>(version);
  q.max_resp_code = max_resp_code;
  q.group = group;
  bytes m(q.buffer_len());
  q.emit(m);
  const auto dst = group.is_unspecified() ? wire::ipv4_addr::all_systems() : group;
  return ipv4(wire::ipv4_addr{10, 0, 0, 254}, dst, wire::igmp::ip_protocol, m, 9, peer_mac, wire::multicast_mac(dst));
}

}  // namespace ringlab::stack::testing
