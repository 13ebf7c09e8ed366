#pragma once
// ARP (RFC 826) for Ethernet and IPv4 only: anything else is error::unsupported.
//
//   0    2    4  5  6    8        14    18       24    28
//   |htyp|ptyp|hl|pl|oper| sha    | spa | tha    | tpa |
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/wire/endian.hpp"
#include "stack/wire/error.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::wire::arp {

enum class operation : std::uint16_t { request = 1, reply = 2 };

// Byte offsets within the packet (as smoltcp's wire::arp::field). From sha on they hold for
// Ethernet + IPv4 only (hardware length 6, protocol length 4), the one kind check() accepts.
namespace field {
inline constexpr std::size_t htype = 0;   // 2 bytes: hardware type (1 = Ethernet)
inline constexpr std::size_t ptype = 2;   // 2 bytes: protocol type (0x0800 = IPv4)
inline constexpr std::size_t hlen = 4;
inline constexpr std::size_t plen = 5;
inline constexpr std::size_t oper = 6;    // 2 bytes
inline constexpr std::size_t sha = 8;     // sender hardware address, mac_addr::size bytes
inline constexpr std::size_t spa = 14;    // sender protocol address, ipv4_addr::size bytes
inline constexpr std::size_t tha = 18;    // target hardware address
inline constexpr std::size_t tpa = 24;    // target protocol address
inline constexpr std::size_t end = 28;
}  // namespace field

inline constexpr std::uint16_t htype_ethernet = 1;
inline constexpr std::uint16_t ptype_ipv4 = 0x0800;

inline constexpr std::size_t fixed_len = field::sha;    // up to and including oper
inline constexpr std::size_t packet_len = field::end;   // Ethernet + IPv4

class view {
 public:
  constexpr view() noexcept = default;

  static constexpr result<view> check(std::span<const std::byte> b) noexcept {
    if (b.size() < fixed_len) return error::truncated;
    view v{b};
    if (v.hardware_type() != htype_ethernet || v.protocol_type() != ptype_ipv4 || v.hardware_len() != mac_addr::size ||
        v.protocol_len() != ipv4_addr::size)
      return error::unsupported;
    if (b.size() < packet_len) return error::truncated;
    return v;
  }
  static constexpr view unchecked(std::span<const std::byte> b) noexcept { return view{b}; }

  constexpr std::uint16_t hardware_type() const noexcept { return load_be16(b_.data() + field::htype); }
  constexpr std::uint16_t protocol_type() const noexcept { return load_be16(b_.data() + field::ptype); }
  constexpr std::uint8_t hardware_len() const noexcept { return load_u8(b_.data() + field::hlen); }
  constexpr std::uint8_t protocol_len() const noexcept { return load_u8(b_.data() + field::plen); }
  constexpr std::uint16_t oper() const noexcept { return load_be16(b_.data() + field::oper); }
  constexpr mac_addr sender_mac() const noexcept { return mac_addr::load(b_.data() + field::sha); }
  constexpr ipv4_addr sender_ip() const noexcept { return ipv4_addr::load(b_.data() + field::spa); }
  constexpr mac_addr target_mac() const noexcept { return mac_addr::load(b_.data() + field::tha); }
  constexpr ipv4_addr target_ip() const noexcept { return ipv4_addr::load(b_.data() + field::tpa); }
  constexpr std::span<const std::byte> bytes() const noexcept { return b_; }

 private:
  constexpr explicit view(std::span<const std::byte> b) noexcept : b_(b) {}
  std::span<const std::byte> b_;
};

struct repr {
  operation op = operation::request;
  mac_addr sender_mac;
  ipv4_addr sender_ip;
  mac_addr target_mac;   // zero in a request
  ipv4_addr target_ip;

  static constexpr result<repr> parse(const view& v) noexcept {
    if (v.oper() != 1 && v.oper() != 2) return error::unsupported;
    return repr{static_cast<operation>(v.oper()), v.sender_mac(), v.sender_ip(), v.target_mac(), v.target_ip()};
  }

  static constexpr std::size_t buffer_len() noexcept { return packet_len; }

  constexpr std::size_t emit(std::span<std::byte> out) const noexcept {
    if (out.size() < packet_len) return 0;
    std::byte* p = out.data();
    store_be16(p + field::htype, htype_ethernet);
    store_be16(p + field::ptype, ptype_ipv4);
    store_u8(p + field::hlen, mac_addr::size);
    store_u8(p + field::plen, ipv4_addr::size);
    store_be16(p + field::oper, static_cast<std::uint16_t>(op));
    sender_mac.store(p + field::sha);
    sender_ip.store(p + field::spa);
    target_mac.store(p + field::tha);
    target_ip.store(p + field::tpa);
    return packet_len;
  }

  friend constexpr bool operator==(const repr&, const repr&) noexcept = default;
};

}  // namespace ringlab::wire::arp
