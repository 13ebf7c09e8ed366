// Ring designs side by side in one run: single-thread enqueue+dequeue, and producer -> consumer across
// the two cores, bursts 1/8/32/256, elements of 8 B and 64 B, plus the core-to-core cache-line round trip
// that bounds any cross-core handoff. Each design is called through its concrete class (no virtual
// call) with its natural API: a burst of 1 uses the single-item call where a design has one.
// Output: items/s (items_per_second); the floor's time per iteration is one round trip.
// bench/rings/ratio_table.py turns the JSON into the ratio table of rings/README.md; bench/report.py
// puts the target rows in the benchmark report.
#include <benchmark/benchmark.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "bench/cpu.hpp"
#include "rings/batch_ring.hpp"
#include "rings/boost_spsc_adapter.hpp"
#include "rings/mpmc_ring.hpp"
#include "rings/netmap_ring.hpp"
#include "rings/spsc_ring.hpp"
#include "rings/umem_rings.hpp"
#if RINGLAB_HAVE_DPDK
#include "rings/rte_ring_adapter.hpp"
#endif

namespace {

using namespace ringlab::rings;
constexpr std::size_t ring_slots = 4096;

struct elem64 {
  std::uint64_t w[8];
};
template <class T>
T make(std::uint64_t i) {
  if constexpr (sizeof(T) == 8) return i;
  else return T{{i, i, i, i, i, i, i, i}};
}
template <class T>
std::uint64_t first_word(const T& v) {
  if constexpr (sizeof(T) == 8) return v;
  else return v.w[0];
}

// ---- one ops type per design: put(p, n) / get(p, n) return how many moved ----
template <class T>
struct spsc_ops {
  static constexpr const char* name = "spsc";
  spsc_ring<T> r{ring_slots};
  std::size_t put(const T* p, std::size_t n) { return n == 1 ? r.try_push(*p) : r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return n == 1 ? r.try_pop(*p) : r.dequeue_burst({p, n}); }
};
// try_push/try_pop publish once per batch (32 items); the producer never goes idle here, so nothing
// waits for a flush.
template <class T>
struct batch_ops {
  static constexpr const char* name = "batch";
  batch_ring<T> r{ring_slots};
  std::size_t put(const T* p, std::size_t n) { return n == 1 ? r.try_push(*p) : r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return n == 1 ? r.try_pop(*p) : r.dequeue_burst({p, n}); }
};
// batch without the burst path's prefetches (issue 15.8), cross-core at burst 32 only: the control
// that says what the prefetches buy on the machine of the run.
template <class T>
struct batch_nopf_ops {
  static constexpr const char* name = "batch-nopf";
  batch_ring<T> r{ring_slots, 0, batch_ring<T>::default_batch, {.write_ahead_bytes = 0, .read_ahead_bytes = 0}};
  std::size_t put(const T* p, std::size_t n) { return r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return r.dequeue_burst({p, n}); }
};
// batch with the consumer's idle polls (issue 15.8), cross-core at bursts 1 and 32 (the two targets: one
// configuration for both): after a reload of head that found nothing new, 128 polls (this loop's pause
// each: about 4.5 us on the lab's VMs) read only the cached head. The default batch row is the same ring
// with them off (any_ring's batch keeps them off). Burst 1 goes through try_push/try_pop, as batch's.
template <class T>
struct batch_idle_ops {
  static constexpr const char* name = "batch-idle";
  static constexpr std::uint32_t idle_polls = 128;
  batch_ring<T> r{ring_slots, 0, batch_ring<T>::default_batch, {.idle_polls = idle_polls}};
  std::size_t put(const T* p, std::size_t n) { return n == 1 ? r.try_push(*p) : r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return n == 1 ? r.try_pop(*p) : r.dequeue_burst({p, n}); }
};
template <class T, sync_mode M>
struct mpmc_ops {
  static constexpr const char* name = M == sync_mode::single ? "mpmc-sp-sc" : "mpmc-mp-mc";
  mpmc_ring<T> r{ring_slots, M, M};
  std::size_t put(const T* p, std::size_t n) { return r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return r.dequeue_burst({p, n}); }
};
template <class T>
struct netmap_ops {
  static constexpr const char* name = "netmap";
  netmap_queue<T> r{ring_slots};
  std::size_t put(const T* p, std::size_t n) { return r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return r.dequeue_burst({p, n}); }
};
template <class T>
struct umem_ops {
  static constexpr const char* name = "umem";
  umem_queue<T> r{ring_slots};
  std::size_t put(const T* p, std::size_t n) { return r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return r.dequeue_burst({p, n}); }
};
template <class T>
struct boost_spsc_ops {
  static constexpr const char* name = "boost-spsc";
  boost_spsc_adapter<T> r{ring_slots};
  std::size_t put(const T* p, std::size_t n) { return n == 1 ? r.try_push(*p) : r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return n == 1 ? r.try_pop(*p) : r.dequeue_burst({p, n}); }
};
// The raw queue, not the adapter: Boost's own numbers, without the adapter's bulk counters.
template <class T>
struct boost_mpmc_ops {
  static constexpr const char* name = "boost-mpmc";
  boost::lockfree::queue<T> q{ring_slots};
  std::size_t put(const T* p, std::size_t n) {
    std::size_t k = 0;
    while (k < n && q.bounded_push(p[k])) ++k;
    return k;
  }
  std::size_t get(T* p, std::size_t n) {
    std::size_t k = 0;
    while (k < n && q.pop(p[k])) ++k;
    return k;
  }
};
#if RINGLAB_HAVE_DPDK
template <class T, sync_mode M>
struct rte_ops {
  static constexpr const char* name = M == sync_mode::single ? "rte-sp-sc" : "rte-mp-mc";
  rte_ring_adapter<T> r{ring_slots, M, M};
  std::size_t put(const T* p, std::size_t n) { return r.enqueue_burst({p, n}); }
  std::size_t get(T* p, std::size_t n) { return r.dequeue_burst({p, n}); }
};
#endif

using ringlab::bench::pin_to_cpu;
// Items per timing window of the cross-core rows (window_Mps): eight rings' worth, so a window cannot be
// one thread draining a ring the other filled before it was preempted (that alone runs at
// single-thread speed); 0.14 ms at 240 M/s, 0.55 ms at 60 M/s: under a scheduler time slice (ms).
constexpr std::uint64_t window_items = 8 * ring_slots;

// Two threads bounce one line: `ping` (one thread) stores odd values and waits for the even answer that
// `echo` (the other) stores. The floor row, and each cross-core repetition before its timed loop
// (rtt_ns): the hypervisor moves the two vCPUs between host cores, and a repetition's round trip says
// where they sat (80 ns and 500-1300 ns both occur within one run on the lab's VMs).
struct ping_pong {
  alignas(128) std::atomic<std::uint64_t> line{0};
  std::uint64_t v = 0;       // (ping) last value stored
  std::uint64_t seen = 0;    // (echo) last value answered
  void ping_once() noexcept {
    line.store(++v, std::memory_order_release);  // odd: ping
    while (line.load(std::memory_order_acquire) != v + 1) cpu_relax();
    ++v;  // even: pong seen
  }
  // Answers until `until` pings were answered, or for ever while !stop.
  void echo(std::uint64_t until, const std::atomic<bool>* stop) noexcept {
    std::uint64_t answered = 0;
    while (answered < until && !(stop && stop->load(std::memory_order_relaxed))) {
      const std::uint64_t x = line.load(std::memory_order_acquire);
      if (x != seen && (x & 1)) {
        seen = x + 1;
        line.store(seen, std::memory_order_release);
        ++answered;
      }
    }
  }
};
// The repetition's round trip: the median of 100 blocks of 10 trips (a stop in one block moves no
// median), after 100 trips that wait for the other thread to start and warm the line.
constexpr std::uint64_t rtt_warmup = 100, rtt_blocks = 100, rtt_block_trips = 10;
double median_round_trip_ns(ping_pong& pp) {
  for (std::uint64_t i = 0; i < rtt_warmup; ++i) pp.ping_once();
  std::vector<double> blocks;
  for (std::uint64_t b = 0; b < rtt_blocks; ++b) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < rtt_block_trips; ++i) pp.ping_once();
    blocks.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()) /
                     static_cast<double>(rtt_block_trips));
  }
  std::nth_element(blocks.begin(), blocks.begin() + rtt_blocks / 2, blocks.end());
  return blocks[rtt_blocks / 2];
}

// items/s only: ns per item is 1e9 / items_per_second (bench/report.py and ratio_table.py show it); a
// rate counter inverted would print in seconds.
void finish(benchmark::State& state, std::uint64_t items) {
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
}

// Single thread: a burst in, the same burst out.
template <class Ops, class T>
void single_thread(benchmark::State& state) {
  const auto burst = static_cast<std::size_t>(state.range(0));
  auto ops = std::make_unique<Ops>();
  std::vector<T> in(burst), out(burst);
  for (std::size_t i = 0; i < burst; ++i) in[i] = make<T>(i);
  pin_to_cpu(0);
  std::uint64_t items = 0, sum = 0, held = 0;
  for (auto _ : state) {
    const std::size_t k = ops->put(in.data(), burst);
    const std::size_t g = ops->get(out.data(), burst);
    sum += first_word(out[0]);
    items += g;
    // Every design gets what it put in the same iteration, except batch's try_push, which publishes
    // once per batch: its ring holds up to one batch (32) in steady state, never more.
    held += k - g;
    if (held > 32) state.SkipWithError("single-thread: items put and not got back");
  }
  benchmark::DoNotOptimize(sum);
  finish(state, items);
}

// Producer on core 1, consumer (the timed thread) on core 0.
template <class Ops, class T>
void cross_core(benchmark::State& state) {
  const auto burst = static_cast<std::size_t>(state.range(0));
  auto ops = std::make_unique<Ops>();
  std::atomic<bool> stop{false}, ready{false};
  std::uint64_t full_polls = 0;   // the producer's puts that moved nothing (read after join)
  auto pp = std::make_unique<ping_pong>();
  std::thread producer([&] {
    pin_to_cpu(1);
    pp->echo(rtt_warmup + rtt_blocks * rtt_block_trips, nullptr);
    std::vector<T> buf(burst);
    std::uint64_t seq = 0, full = 0;
    ready.store(true, std::memory_order_release);
    while (!stop.load(std::memory_order_relaxed)) {
      for (std::size_t i = 0; i < burst; ++i) buf[i] = make<T>(seq + i);
      const std::size_t k = ops->put(buf.data(), burst);
      seq += k;
      if (k == 0) {
        ++full;
        cpu_relax();
      }
    }
    full_polls = full;
  });
  pin_to_cpu(0);
  const double rtt_ns = median_round_trip_ns(*pp);
  while (!ready.load(std::memory_order_acquire)) cpu_relax();
  std::vector<T> out(burst);
  std::uint64_t items = 0, expect = 0, bad = 0, empty_polls = 0;
  std::vector<std::int64_t> windows;   // ns per window_items items moved
  windows.reserve(1 << 16);
  auto window_start = std::chrono::steady_clock::now();
  std::uint64_t window_end = window_items;
  for (auto _ : state) {
    const std::size_t k = ops->get(out.data(), burst);
    if (k == 0) {
      ++empty_polls;
      cpu_relax();
      continue;
    }
    bad += first_word(out[0]) != expect;  // also keeps the copy from being optimised away
    expect += k;
    items += k;
    if (items >= window_end) {
      const auto now = std::chrono::steady_clock::now();
      if (windows.size() < windows.capacity())
        windows.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - window_start).count());
      window_start = now;
      window_end = items + window_items;
    }
  }
  stop.store(true);
  producer.join();
  if (bad) state.SkipWithError("cross-core: items out of order");
  // Which side waits (issue 15.8): polls that moved nothing per 1000 items moved. Empty polls high: the
  // consumer keeps up and the producer sets the pace; full polls high: the ring sits full and the
  // consumer (the timed side) does.
  const double per_k = items ? 1000.0 / static_cast<double>(items) : 0.0;
  state.counters["empty_per_k"] = static_cast<double>(empty_polls) * per_k;
  state.counters["full_per_k"] = static_cast<double>(full_polls) * per_k;
  state.counters["rtt_ns"] = rtt_ns;
  // The rate while both threads ran: the consumer times windows of window_items items; window_Mps is
  // the rate of the median window, window_fast_Mps of the 10th-percentile (fast) one. A window in which
  // the guest's scheduler or the hypervisor stopped either thread lasts milliseconds instead of
  // fractions of one and falls out of the middle, so these compare designs where items/s (the whole
  // run, stops included) measures the scheduler: on a loaded VM, and on these VMs' hypervisor.
  if (windows.size() >= 10) {
    auto pct = [&](std::size_t p) {
      auto it = windows.begin() + static_cast<std::ptrdiff_t>(windows.size() * p / 100);
      std::nth_element(windows.begin(), it, windows.end());
      return static_cast<double>(window_items) * 1e3 / static_cast<double>(std::max<std::int64_t>(*it, 1));
    };
    state.counters["window_fast_Mps"] = pct(10);
    state.counters["window_Mps"] = pct(50);   // leaves windows[size / 2] the median duration
    // The share of the timed windows' time spent in windows over 4x the median: what items/s loses to
    // stops. Alike across designs in one run when the stops are the scheduler's; a design whose share
    // stands out on a quiet machine has slow phases of its own (items/s counts them, window_Mps not).
    const std::int64_t median = windows[windows.size() / 2];
    std::int64_t slow = 0, total = 0;
    for (const std::int64_t w : windows) {
      total += w;
      if (w > 4 * median) slow += w;
    }
    state.counters["slow_share"] = static_cast<double>(slow) / static_cast<double>(std::max<std::int64_t>(total, 1));
  }
  finish(state, items);
}

// Two threads bounce one cache line: the floor under any cross-core handoff.
void cache_line_round_trip(benchmark::State& state) {
  auto pp = std::make_unique<ping_pong>();
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    pin_to_cpu(1);
    pp->echo(~std::uint64_t{0}, &stop);
  });
  pin_to_cpu(0);
  std::uint64_t trips = 0;
  for (auto _ : state) {
    pp->ping_once();
    ++trips;
  }
  stop.store(true);
  echo.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(trips));   // one iteration, one trip: real_time is ns per trip
}

template <template <class> class Ops>
void register_design() {
  for (const char* mode : {"single", "cross"}) {
    const bool cross = std::string(mode) == "cross";
    auto reg = [&]<class T>(const char* esize) {
      const std::string name = std::string(mode) + "/" + Ops<T>::name + "/" + esize;
      auto* b = cross ? benchmark::RegisterBenchmark(name.c_str(), cross_core<Ops<T>, T>)
                      : benchmark::RegisterBenchmark(name.c_str(), single_thread<Ops<T>, T>);
      b->ArgName("burst")->Arg(1)->Arg(8)->Arg(32)->Arg(256);
      if (cross) b->UseRealTime();
    };
    reg.template operator()<std::uint64_t>("8B");
    reg.template operator()<elem64>("64B");
  }
}
// Cross-core only, at the bursts issue 15.8's targets are judged on (1 against boost, 32 against rte_ring).
template <template <class> class Ops>
void register_target_variant(std::initializer_list<std::int64_t> bursts) {
  auto reg = [&]<class T>(const char* esize) {
    const std::string name = std::string("cross/") + Ops<T>::name + "/" + esize;
    auto* b = benchmark::RegisterBenchmark(name.c_str(), cross_core<Ops<T>, T>)->ArgName("burst");
    for (const auto burst : bursts) b->Arg(burst);
    b->UseRealTime();
  };
  reg.template operator()<std::uint64_t>("8B");
  reg.template operator()<elem64>("64B");
}
template <class T> using mpmc_single = mpmc_ops<T, sync_mode::single>;
template <class T> using mpmc_multi = mpmc_ops<T, sync_mode::multi>;
#if RINGLAB_HAVE_DPDK
template <class T> using rte_single = rte_ops<T, sync_mode::single>;
template <class T> using rte_multi = rte_ops<T, sync_mode::multi>;
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("floor/cache_line_round_trip", cache_line_round_trip)->UseRealTime();
  register_design<spsc_ops>();
  register_design<batch_ops>();
  register_target_variant<batch_nopf_ops>({32});
  register_target_variant<batch_idle_ops>({1, 32});
  register_design<boost_spsc_ops>();
#if RINGLAB_HAVE_DPDK
  register_design<rte_single>();
  register_design<rte_multi>();
#endif
  register_design<mpmc_single>();
  register_design<mpmc_multi>();
  register_design<boost_mpmc_ops>();
  register_design<netmap_ops>();
  register_design<umem_ops>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
