#pragma once
// An IPv4 address as a small value type (host-order integer inside, wire order only in load/store),
// and the RFC 1112 mapping of a multicast group to its Ethernet address.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stack/wire/endian.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::wire {

struct ipv4_addr {
  std::uint32_t value = 0;   // host order: 10.0.0.2 is 0x0a000002

  static constexpr std::size_t size = 4;

  constexpr ipv4_addr() noexcept = default;
  constexpr explicit ipv4_addr(std::uint32_t v) noexcept : value(v) {}
  constexpr ipv4_addr(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept
      : value(std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d) {}

  static constexpr ipv4_addr any() noexcept { return ipv4_addr{}; }
  static constexpr ipv4_addr broadcast() noexcept { return ipv4_addr{0xffffffffu}; }
  static constexpr ipv4_addr all_systems() noexcept { return {224, 0, 0, 1}; }   // IGMP queries
  static constexpr ipv4_addr all_routers() noexcept { return {224, 0, 0, 2}; }   // IGMPv2 leaves
  static constexpr ipv4_addr igmpv3_routers() noexcept { return {224, 0, 0, 22}; }  // IGMPv3 reports

  static constexpr ipv4_addr load(const std::byte* p) noexcept { return ipv4_addr{load_be32(p)}; }
  constexpr void store(std::byte* p) const noexcept { store_be32(p, value); }

  constexpr std::uint8_t octet(int i) const noexcept {
    return static_cast<std::uint8_t>(value >> (8 * (3 - i)));
  }
  constexpr bool is_multicast() const noexcept { return (value >> 28) == 0xe; }   // 224.0.0.0/4
  constexpr bool is_broadcast() const noexcept { return value == 0xffffffffu; }
  constexpr bool is_unspecified() const noexcept { return value == 0; }
  constexpr bool is_loopback() const noexcept { return (value >> 24) == 127; }
  constexpr bool is_unicast() const noexcept {
    return !is_multicast() && !is_broadcast() && !is_unspecified();
  }
  // True when both addresses share the first prefix_len bits (0..32).
  constexpr bool same_subnet(ipv4_addr other, int prefix_len) const noexcept {
    if (prefix_len <= 0) return true;
    const std::uint32_t mask = prefix_len >= 32 ? ~0u : ~0u << (32 - prefix_len);
    return (value & mask) == (other.value & mask);
  }

  // "10.0.0.2". Allocates: for humans, not for the packet path.
  std::string to_string() const {
    std::string s;
    s.reserve(15);
    for (int i = 0; i < 4; ++i) {
      if (i) s += '.';
      s += std::to_string(octet(i));
    }
    return s;
  }

  // Strict dotted quad: four decimal fields 0..255, no leading zeros, nothing else.
  static constexpr std::optional<ipv4_addr> parse(std::string_view s) noexcept {
    std::uint32_t v = 0;
    std::size_t i = 0;
    for (int field = 0; field < 4; ++field) {
      if (field) {
        if (i >= s.size() || s[i] != '.') return std::nullopt;
        ++i;
      }
      const std::size_t start = i;
      std::uint32_t f = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) f = f * 10 + (s[i++] - '0');
      if (i == start || f > 255 || (i - start > 1 && s[start] == '0')) return std::nullopt;
      v = v << 8 | f;
    }
    if (i != s.size()) return std::nullopt;
    return ipv4_addr{v};
  }

  friend constexpr auto operator<=>(const ipv4_addr&, const ipv4_addr&) noexcept = default;
};

// RFC 1112 6.4: 01:00:5e followed by the low 23 bits of the group (so 32 groups share one MAC).
constexpr mac_addr multicast_mac(ipv4_addr group) noexcept {
  return {0x01, 0x00, 0x5e, static_cast<std::uint8_t>((group.value >> 16) & 0x7f),
          static_cast<std::uint8_t>(group.value >> 8), static_cast<std::uint8_t>(group.value)};
}

}  // namespace ringlab::wire
