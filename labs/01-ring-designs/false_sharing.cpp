// Lab 01: false sharing, measured. Two threads on two CPUs each write only their OWN counter, as a
// ring's producer writes only its head and the consumer only its tail. Laid out in one 64-byte cache
// line, every write takes the line away from the other core; laid out as rings/ring_index.hpp lays out
// a ring's two blocks (128 bytes apart: the adjacent-line prefetcher pulls lines in pairs), the cores
// never touch each other's line.
//   false_sharing [--writes N] [--reps R]      (defaults: 20 000 000 writes per thread, 5 repetitions)
// Prints the layout (deterministic) and, per layout, the median ns per write over R repetitions run
// alternately (so that a change of machine load hits both layouts alike), then the ratio.
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "rings/ring_index.hpp"

namespace {

// Two counters 8 bytes apart: one cache line.
struct same_line {
  alignas(ringlab::rings::cache_line_bytes) std::atomic<std::uint64_t> a{0};
  std::atomic<std::uint64_t> b{0};
};
// The ring's layout: each side's block on its own pair of lines.
struct apart {
  alignas(ringlab::rings::block_bytes) std::atomic<std::uint64_t> a{0};
  alignas(ringlab::rings::block_bytes) std::atomic<std::uint64_t> b{0};
};
static_assert(offsetof(same_line, b) - offsetof(same_line, a) < ringlab::rings::cache_line_bytes);
static_assert(offsetof(apart, b) - offsetof(apart, a) == ringlab::rings::block_bytes);

void pin(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % std::max(1u, std::thread::hardware_concurrency()), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

double thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

// Counts to n with a read-modify-write per step; *cpu_ns gets the CPU time the loop took on this thread.
// Not a plain store: x86's store buffer drains many plain stores to one line per visit of that line, so
// two cores storing into one line barely slow each other (measured here: 1.0x, 0.3 ns per store on an
// idle VM). A locked RMW needs the line in its own cache for every step, as a ring's index update does
// once the other side reads it, so the bouncing line shows in every step.
void writer(std::atomic<std::uint64_t>& c, std::uint64_t n, std::atomic<int>& ready, unsigned cpu, double* cpu_ns) {
  pin(cpu);
  ready.fetch_add(1);
  while (ready.load() < 2) {}
  const double t0 = thread_cpu_ns();
  for (std::uint64_t i = 1; i <= n; ++i) c.fetch_add(1, std::memory_order_relaxed);
  *cpu_ns = thread_cpu_ns() - t0;
}

// How much of the wall time both writers really ran at once: their CPU time over twice the wall
// time. Near 1: the figure is the two cores fighting over the line; well below: the machine's other
// load time-sliced them, and the figure means little.
double overlap = 0;

// Nanoseconds per write, both threads writing at once.
template <class Layout>
double run(std::uint64_t n) {
  auto* l = new Layout;
  std::atomic<int> ready{0};
  double cpu1 = 0, cpu2 = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread t1(writer, std::ref(l->a), n, std::ref(ready), 0u, &cpu1);
  std::thread t2(writer, std::ref(l->b), n, std::ref(ready), 1u, &cpu2);
  t1.join();
  t2.join();
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  overlap = std::min(1.0, (cpu1 + cpu2) / (2 * ns));
  const bool ok = l->a.load() == n && l->b.load() == n;
  delete l;
  if (!ok) {
    std::fprintf(stderr, "false_sharing: a counter lost writes\n");
    std::exit(1);
  }
  return ns / static_cast<double>(n);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::uint64_t number(const char* opt, const char* v) {
  char* end = nullptr;
  const unsigned long long x = v ? std::strtoull(v, &end, 10) : 0;
  if (!v || *end || x == 0) {
    std::fprintf(stderr, "false_sharing: %s: '%s' is not a positive whole number\n", opt, v ? v : "");
    std::exit(2);
  }
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t writes = 20'000'000, reps = 5;
  for (int i = 1; i < argc; i += 2) {
    if (!std::strcmp(argv[i], "--writes")) writes = number("--writes", i + 1 < argc ? argv[i + 1] : nullptr);
    else if (!std::strcmp(argv[i], "--reps")) reps = number("--reps", i + 1 < argc ? argv[i + 1] : nullptr);
    else {
      std::fprintf(stderr, "false_sharing: unknown option '%s' (--writes N, --reps R)\n", argv[i]);
      return 2;
    }
  }
  std::printf("layout same_line: counters %zu bytes apart, one %zu-byte line\n",
              offsetof(same_line, b) - offsetof(same_line, a), ringlab::rings::cache_line_bytes);
  std::printf("layout apart:     counters %zu bytes apart (rings/ring_index.hpp block_bytes), two line pairs\n",
              offsetof(apart, b) - offsetof(apart, a));
  std::printf("%u CPUs online; writer threads pinned to CPU 0 and CPU 1\n", std::thread::hardware_concurrency());
  std::vector<double> shared, padded, together;
  for (std::uint64_t r = 0; r < reps; ++r) {   // alternated: load changes hit both layouts
    shared.push_back(run<same_line>(writes));
    together.push_back(overlap);
    padded.push_back(run<apart>(writes));
    together.push_back(overlap);
  }
  const double s = median(shared), p = median(padded);
  std::printf("measured: %lu writes per thread, median of %lu alternated repetitions\n", (unsigned long)writes,
              (unsigned long)reps);
  std::printf("  same_line  %6.2f ns per write (min %.2f, max %.2f)\n", s,
              *std::min_element(shared.begin(), shared.end()), *std::max_element(shared.begin(), shared.end()));
  std::printf("  apart      %6.2f ns per write (min %.2f, max %.2f)\n", p,
              *std::min_element(padded.begin(), padded.end()), *std::max_element(padded.begin(), padded.end()));
  std::printf("  false sharing costs %.1fx\n", s / p);
  std::printf("  the two writers ran at the same time %.0f%% of the wall time (median; near 100%%: the figure holds)\n",
              100 * median(together));
  return 0;
}
