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

// CLOCK_REALTIME minus CLOCK_MONOTONIC, read once: what turns a monotonic stamp into wall-clock time
// (a pcap of a real port stamped with monotonic time reads as 1970). Taken once per file, so the
// file's times keep the monotonic clock's spacing even if the wall clock is stepped meanwhile.
inline std::int64_t realtime_offset_ns() noexcept {
  timespec rt{}, mono{};
  ::clock_gettime(CLOCK_REALTIME, &rt);
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  return (static_cast<std::int64_t>(rt.tv_sec) - static_cast<std::int64_t>(mono.tv_sec)) * 1'000'000'000 +
         (static_cast<std::int64_t>(rt.tv_nsec) - static_cast<std::int64_t>(mono.tv_nsec));
}

}  // namespace ringlab::trace
