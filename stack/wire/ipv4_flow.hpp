#pragma once
// The IPv4 flow fields a NIC's receive parser reads to steer a frame (RSS, flow director): addresses,
// protocol and, for TCP and UDP that are not fragments, the ports. Lenient where the stack's views are
// strict, as a NIC is, since it hashes before anything validates the packet:
//   - one tag is skipped, 802.1Q (0x8100) or 802.1ad (0x88a8);
//   - the IPv4 header must be version 4, IHL >= 5 and whole in the bytes; total length and the header
//     checksum are not looked at (a bad packet still lands on the queue of its flow, and is dropped there);
//   - the ports are the first 4 bytes after the header (TCP's sit where UDP's do), when they are there.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/wire/endian.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/udp.hpp"

namespace ringlab::wire {

struct ipv4_flow {
  ipv4_addr src;
  ipv4_addr dst;
  std::uint8_t proto = 0;
  bool fragment = false;    // MF set or a non-zero offset: the ports are in the first fragment only
  bool has_ports = false;   // TCP or UDP, not a fragment, and the 4 bytes there
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;

  // The flow of an Ethernet frame, or nullopt when it carries no readable IPv4 header.
  static constexpr std::optional<ipv4_flow> find(std::span<const std::byte> frame) noexcept {
    namespace ef = ethernet::field;
    if (frame.size() < ethernet::header_len) return std::nullopt;
    std::size_t l3 = ef::payload;
    std::uint16_t type = load_be16(frame.data() + ef::type);
    if (type == static_cast<std::uint16_t>(ethernet::ethertype::vlan) ||
        type == static_cast<std::uint16_t>(ethernet::ethertype::qinq)) {
      if (frame.size() < ef::tagged_payload) return std::nullopt;
      type = load_be16(frame.data() + ef::inner_type);
      l3 = ef::tagged_payload;
    }
    if (type != static_cast<std::uint16_t>(ethernet::ethertype::ipv4)) return std::nullopt;
    const auto b = frame.subspan(l3);
    if (b.size() < ipv4::min_header_len) return std::nullopt;
    const auto ip = ipv4::view::unchecked(b);   // only fixed-header fields and IHL are read
    if (ip.version() != 4 || ip.ihl() < 5 || b.size() < ip.header_len()) return std::nullopt;
    ipv4_flow f;
    f.src = ip.src();
    f.dst = ip.dst();
    f.proto = ip.proto();
    f.fragment = ip.is_fragment();
    const auto l4 = b.subspan(ip.header_len());
    if (!f.fragment &&
        (f.proto == static_cast<std::uint8_t>(ipv4::protocol::tcp) ||
         f.proto == static_cast<std::uint8_t>(ipv4::protocol::udp)) &&
        l4.size() >= udp::field::length) {
      f.has_ports = true;
      f.src_port = load_be16(l4.data() + udp::field::src_port);
      f.dst_port = load_be16(l4.data() + udp::field::dst_port);
    }
    return f;
  }

  friend constexpr bool operator==(const ipv4_flow&, const ipv4_flow&) noexcept = default;
};

}  // namespace ringlab::wire
