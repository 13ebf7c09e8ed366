#pragma once
// rx_time_shift<P>: a port decorator that moves every received frame's rx_meta timestamp by a fixed
// signed offset. Why: a real port stamps frames with CLOCK_MONOTONIC (the stack's clock), but a pcap
// wants wall-clock times (a capture of a real port stamped in 1970 reads as broken). The decorated
// device puts one shift of +offset under the pcap_tap and one of -offset above it, so the tap writes
// wall-clock times and everything above sees the device's own clock again. Transmit passes through.
#include <cstdint>

#include "port/decorator.hpp"

namespace ringlab::port {

template <class P>
  requires detail::inner_port<P>
class rx_time_shift {
 public:
  rx_time_shift(P inner, std::int64_t offset_ns) : inner_(static_cast<P>(inner)), offset_(offset_ns) {}

  std::size_t rx_burst(std::span<frame_ref> out) noexcept {
    const std::size_t n = inner_.rx_burst(out);
    for (std::size_t i = 0; i < n; ++i) out[i].meta.t_ns += static_cast<std::uint64_t>(offset_);   // mod 2^64
    return n;
  }
  void rx_release(std::span<const frame_ref> f) noexcept { inner_.rx_release(f); }
  tx_batch tx_reserve(std::size_t n) noexcept { return inner_.tx_reserve(n); }
  port_caps caps() const { return inner_.caps(); }
  frame_pool& pool() noexcept { return inner_.pool(); }
  P& inner() noexcept { return inner_; }

 private:
  P inner_;
  std::int64_t offset_;
};

}  // namespace ringlab::port
