#pragma once
// Big-endian (network order) loads and stores over std::byte. Byte-by-byte so that they are constexpr,
// need no alignment and compile to one load plus a bswap at -O2.
#include <cstddef>
#include <cstdint>

namespace ringlab::wire {

constexpr std::uint8_t load_u8(const std::byte* p) noexcept { return std::to_integer<std::uint8_t>(p[0]); }

constexpr std::uint16_t load_be16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>((load_u8(p) << 8) | load_u8(p + 1));
}

constexpr std::uint32_t load_be32(const std::byte* p) noexcept {
  return (std::uint32_t{load_be16(p)} << 16) | load_be16(p + 2);
}

constexpr std::uint64_t load_be64(const std::byte* p) noexcept {
  return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}

constexpr void store_u8(std::byte* p, std::uint8_t v) noexcept { p[0] = std::byte{v}; }

constexpr void store_be16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}

constexpr void store_be32(std::byte* p, std::uint32_t v) noexcept {
  store_be16(p, static_cast<std::uint16_t>(v >> 16));
  store_be16(p + 2, static_cast<std::uint16_t>(v));
}

constexpr void store_be64(std::byte* p, std::uint64_t v) noexcept {
  store_be32(p, static_cast<std::uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<std::uint32_t>(v));
}

}  // namespace ringlab::wire
