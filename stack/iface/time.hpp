#pragma once
// Time in the stack is a number the caller passes in (`poll(now)`, stack/README.md): nanoseconds on the
// port's clock, virtual for sim_nic, real for real ports. Nothing in stack/ reads a clock.
#include <cstdint>

namespace ringlab::stack {

using time_ns = std::uint64_t;
inline constexpr time_ns never = ~time_ns{0};   // "no timer pending"
inline constexpr time_ns ms = 1'000'000;
inline constexpr time_ns sec = 1'000'000'000;

constexpr time_ns earliest(time_ns a, time_ns b) noexcept { return a < b ? a : b; }

}  // namespace ringlab::stack
