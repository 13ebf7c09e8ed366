#pragma once
// The lab's one real clock: CLOCK_MONOTONIC in nanoseconds. Trace events stamp real_ns with it, the
// real ports (AF_XDP, DPDK) stamp their frames' rx timestamps with it, and the Asio layer passes it to
// the stack as `now` over a real port (over sim_nic it passes the NIC's virtual clock instead).
// It sits in trace/ because trace/ is the leaf every layer above rings may include (DESIGN.md, Layout);
// stack/ does not include it: the stack never reads a clock, its caller passes the time in
// (cmake/check_layering.py refuses the include there).
#include <time.h>

#include <cstdint>

namespace ringlab::trace {

inline std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);   // vDSO: no system call
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace ringlab::trace
