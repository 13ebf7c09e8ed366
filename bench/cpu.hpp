#pragma once
// What every benchmark thread needs from the CPU: its own CPU time, and a core of its own. On these
// 2-vCPU machines the receiver runs on CPU 0 and any sender or producer on CPU 1, so a figure is never
// two of our threads taking turns on one core.
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <cstdint>
#include <thread>

namespace ringlab::bench {

// This thread's CPU time: what a receiver spent, whatever the machine's other load.
inline std::uint64_t thread_cpu_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Pins the calling thread to `cpu` (modulo the CPUs there are). false: the kernel refused.
inline bool pin_to_cpu(int cpu) noexcept {
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(n > 1 ? cpu % n : 0, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

}  // namespace ringlab::bench
