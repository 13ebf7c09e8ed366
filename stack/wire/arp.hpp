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

inline constexpr std::size_t fixed_len = 8;    // up to and including oper
inline constexpr std::size_t packet_len = 28;  // Ethernet + IPv4

class view {
 public:
  constexpr view() noexcept = default;

  static constexpr result<view> check(std::span<const std::byte> b) noexcept {
    if (b.size() < fixed_len) return error::truncated;
    view v{b};
    if (v.hardware_type() != 1 || v.protocol_type() != 0x0800 || v.hardware_len() != 6 || v.protocol_len() != 4)
      return error::unsupported;
    if (b.size() < packet_len) return error::truncated;
    return v;
  }
  static constexpr view unchecked(std::span<const std::byte> b) noexcept { return view{b}; }

  constexpr std::uint16_t hardware_type() const noexcept { return load_be16(b_.data()); }
  constexpr std::uint16_t protocol_type() const noexcept { return load_be16(b_.data() + 2); }
  constexpr std::uint8_t hardware_len() const noexcept { return load_u8(b_.data() + 4); }
  constexpr std::uint8_t protocol_len() const noexcept { return load_u8(b_.data() + 5); }
  constexpr std::uint16_t oper() const noexcept { return load_be16(b_.data() + 6); }
  constexpr mac_addr sender_mac() const noexcept { return mac_addr::load(b_.data() + 8); }
  constexpr ipv4_addr sender_ip() const noexcept { return ipv4_addr::load(b_.data() + 14); }
  constexpr mac_addr target_mac() const noexcept { return mac_addr::load(b_.data() + 18); }
  constexpr ipv4_addr target_ip() const noexcept { return ipv4_addr::load(b_.data() + 24); }
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
    store_be16(p, 1);
    store_be16(p + 2, 0x0800);
    store_u8(p + 4, 6);
    store_u8(p + 5, 4);
    store_be16(p + 6, static_cast<std::uint16_t>(op));
    sender_mac.store(p + 8);
    sender_ip.store(p + 14);
    target_mac.store(p + 18);
    target_ip.store(p + 24);
    return packet_len;
  }

  friend constexpr bool operator==(const repr&, const repr&) noexcept = default;
};

}  // namespace ringlab::wire::arp
