#pragma once
// Sequence-number arithmetic (RFC 9293 3.4): 32-bit numbers compared modulo 2^32, as the distance from
// one to the other taken as a signed 32-bit value. Valid while the two are less than 2^31 apart, which
// the window rules guarantee (RFC 7323 2.3 caps a window at 2^30).
#include <cstdint>

namespace ringlab::tcp {

constexpr std::int32_t seq_diff(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b);
}
constexpr bool seq_lt(std::uint32_t a, std::uint32_t b) noexcept { return seq_diff(a, b) < 0; }
constexpr bool seq_le(std::uint32_t a, std::uint32_t b) noexcept { return seq_diff(a, b) <= 0; }
constexpr bool seq_gt(std::uint32_t a, std::uint32_t b) noexcept { return seq_diff(a, b) > 0; }
constexpr bool seq_ge(std::uint32_t a, std::uint32_t b) noexcept { return seq_diff(a, b) >= 0; }
// lo <= x < hi, modulo 2^32.
constexpr bool seq_in(std::uint32_t x, std::uint32_t lo, std::uint32_t hi) noexcept {
  return x - lo < hi - lo;
}
constexpr std::uint32_t seq_max(std::uint32_t a, std::uint32_t b) noexcept { return seq_lt(a, b) ? b : a; }
constexpr std::uint32_t seq_min(std::uint32_t a, std::uint32_t b) noexcept { return seq_lt(a, b) ? a : b; }

}  // namespace ringlab::tcp
