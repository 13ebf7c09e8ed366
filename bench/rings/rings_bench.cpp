// Ring designs side by side in one run: single-thread enqueue+dequeue, and producer -> consumer across
// the two cores, bursts 1/8/32/256, elements of 8 B and 64 B, plus the core-to-core cache-line round trip
// that bounds any cross-core handoff. Each design is called through its concrete class (no virtual
// call) with its natural API: a burst of 1 uses the single-item call where a design has one.
// Output: items/s (items_per_second); the floor's time per iteration is one round trip.
// bench/rings/ratio_table.py turns the JSON into the ratio table of rings/README.md; bench/report.py
// puts the target rows in the benchmark report.
#include <benchmark/benchmark.h>
#include <array>
#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <cstdint>
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
  std::thread producer([&] {
    pin_to_cpu(1);
    std::vector<T> buf(burst);
    std::uint64_t seq = 0;
    ready.store(true, std::memory_order_release);
    while (!stop.load(std::memory_order_relaxed)) {
      for (std::size_t i = 0; i < burst; ++i) buf[i] = make<T>(seq + i);
      const std::size_t k = ops->put(buf.data(), burst);
      seq += k;
      if (k == 0) cpu_relax();
    }
  });
  pin_to_cpu(0);
  while (!ready.load(std::memory_order_acquire)) cpu_relax();
  std::vector<T> out(burst);
  std::uint64_t items = 0, expect = 0, bad = 0;
  for (auto _ : state) {
    const std::size_t k = ops->get(out.data(), burst);
    if (k == 0) {
      cpu_relax();
      continue;
    }
    bad += first_word(out[0]) != expect;  // also keeps the copy from being optimised away
    expect += k;
    items += k;
  }
  stop.store(true);
  producer.join();
  if (bad) state.SkipWithError("cross-core: items out of order");
  finish(state, items);
}

// Two threads bounce one cache line: the floor under any cross-core handoff.
void cache_line_round_trip(benchmark::State& state) {
  alignas(128) static std::atomic<std::uint64_t> line{0};
  line.store(0);
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    pin_to_cpu(1);
    std::uint64_t seen = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const std::uint64_t v = line.load(std::memory_order_acquire);
      if (v != seen && (v & 1)) {
        seen = v + 1;
        line.store(seen, std::memory_order_release);
      }
    }
  });
  pin_to_cpu(0);
  std::uint64_t v = 0, trips = 0;
  for (auto _ : state) {
    line.store(++v, std::memory_order_release);  // odd: ping
    while (line.load(std::memory_order_acquire) != v + 1) cpu_relax();
    ++v;  // even: pong seen
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
