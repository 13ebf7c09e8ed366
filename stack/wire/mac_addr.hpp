#pragma once
// A 48-bit Ethernet address as a small value type.
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringlab::wire {

struct mac_addr {
  std::array<std::uint8_t, 6> octets{};

  static constexpr std::size_t size = 6;

  constexpr mac_addr() noexcept = default;
  constexpr mac_addr(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t e,
                     std::uint8_t f) noexcept
      : octets{a, b, c, d, e, f} {}

  static constexpr mac_addr broadcast() noexcept { return {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; }

  // Reads / writes 6 bytes in wire order.
  static constexpr mac_addr load(const std::byte* p) noexcept {
    mac_addr m;
    for (std::size_t i = 0; i < size; ++i) m.octets[i] = std::to_integer<std::uint8_t>(p[i]);
    return m;
  }
  constexpr void store(std::byte* p) const noexcept {
    for (std::size_t i = 0; i < size; ++i) p[i] = std::byte{octets[i]};
  }

  // The I/G bit: group addresses (multicast and broadcast) have the low bit of the first octet set.
  constexpr bool is_multicast() const noexcept { return (octets[0] & 1u) != 0; }
  constexpr bool is_broadcast() const noexcept { return *this == broadcast(); }
  constexpr bool is_unicast() const noexcept { return !is_multicast(); }
  constexpr bool is_zero() const noexcept { return *this == mac_addr{}; }

  // "02:00:00:00:00:02" (lower case). Allocates: for humans, not for the packet path.
  std::string to_string() const {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s(17, ':');
    for (std::size_t i = 0; i < size; ++i) {
      s[i * 3] = hex[octets[i] >> 4];
      s[i * 3 + 1] = hex[octets[i] & 0xf];
    }
    return s;
  }

  // Six two-digit hex groups separated by ':' or '-'; anything else is nullopt.
  static constexpr std::optional<mac_addr> parse(std::string_view s) noexcept {
    if (s.size() != 17) return std::nullopt;
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    mac_addr m;
    for (std::size_t i = 0; i < size; ++i) {
      int hi = nib(s[i * 3]), lo = nib(s[i * 3 + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      if (i + 1 < size && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-') return std::nullopt;
      m.octets[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return m;
  }

  friend constexpr auto operator<=>(const mac_addr&, const mac_addr&) noexcept = default;
};

}  // namespace ringlab::wire
