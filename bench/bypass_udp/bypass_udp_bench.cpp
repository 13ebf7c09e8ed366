// Bypass against kernel, the same application on both sides, 64-byte datagrams, one binary:
//   kernel_app/{epoll,uring}        the receiver application (mcast::receiver, tools/mcast/app.hpp) on
//                                   asio::ip::udp::socket at 127.0.0.1, once per io mode (mcast_rx_io.cpp)
//   bypass_sim/csum:{sw,offload}    the same mcast::receiver over ringlab::bypass::udp::socket on
//                                   sim_nic replaying a preloaded trace from memory (sim_feed.hpp, shared
//                                   with callgrind_rx); ingest + stack poll + handler on this one thread;
//                                   offload: sim_nic checks the checksums at ingest (on this thread too)
// What is the same on both sides, so that the figures compare:
//   - the work per datagram: one async_receive_from, the header parse, the sequence tracker (numbered
//     from the first datagram received) on fresh numbers: the kernel sender numbers every datagram,
//     sim_feed renumbers its looped trace; a row whose tracker saw a number twice is an error;
//   - the io_context: one thread, ASIO_CONCURRENCY_HINT_UNSAFE (bypass::concurrency_hint(one_thread));
//   - the receiving thread is the benchmark thread, pinned to CPU 0, and never waits for its feed:
//     the kernel rows fill the socket queue with one batch (sendmmsg, 32 a call, on this thread:
//     bench/kernel_udp/loopback_sender.hpp) before each timed receive of that batch; the bypass rows'
//     sim_nic has the trace in memory.
// Counters, each from this benchmark alone (ratios between rows are bench/report.py's):
//   rx_cpu_ns_per_pkt  the receiving thread's CPU time per datagram: the headline
//   items_per_second   datagrams per second, wall clock (the kernel rows: the timed receive only)
//   allocs_per_pkt     heap allocations per datagram (operator new is replaced by a counting one
//                      in this binary, so the per-mode kernel objects are counted too)
//   in_order           share of datagrams the tracker found in order (1: no loss, nothing repeated)
// On loopback the kernel's protocol work runs in the sender's softirq (here, during the untimed fill)
// and is not in the kernel rows' rx_cpu_ns_per_pkt; on the bypass rows the stack's is, and sim_nic's
// ingest too. callgrind_rx.sh gives the
// noise-free instruction count of the bypass path.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <optional>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "bench/bypass_udp/mcast_rx.hpp"
#include "bench/bypass_udp/sim_feed.hpp"
#include "bench/kernel_udp/loopback_sender.hpp"
#include "bench/kernel_udp/udp_rx.hpp"
#include "tools/mcast/app.hpp"

// ---- counting allocator for the whole binary ----
namespace {
std::atomic<std::uint64_t> g_allocs{0};
}
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {
using namespace ringlab;
constexpr std::size_t batch = 4096;        // datagrams per benchmark iteration
constexpr std::size_t datagram_size = 64;  // UDP payload, as the sim feed's

// Counters of one benchmark; an error when it measured nothing or its tracker saw a repeated number.
void report(benchmark::State& st, const bench::rx_result& r, std::uint64_t allocs) {
  if (r.packets == 0) return st.SkipWithError("received nothing");
  if (r.repeated != 0)
    return st.SkipWithError("the tracker saw repeated sequence numbers: the feed is not fresh");
  const auto packets = static_cast<double>(r.packets);
  st.SetItemsProcessed(static_cast<std::int64_t>(r.packets));
  st.counters["rx_cpu_ns_per_pkt"] = static_cast<double>(r.cpu_ns) / packets;
  st.counters["allocs_per_pkt"] = static_cast<double>(allocs) / packets;
  st.counters["in_order"] = static_cast<double>(r.in_order) / packets;
}

// Each iteration first fills the socket queue with `batch` numbered datagrams from this thread, then
// times their receive: the receiver never waits for its sender nor shares a core with it, as the
// bypass rows never wait for sim_nic. Needs a receive queue that holds `batch` datagrams (root:
// SO_RCVBUFFORCE; else net.core.rmem_max decides).
template <bool Uring>
void BM_kernel_app(benchmark::State& st) {
  bench::pin_to_cpu(0);
  auto rx = Uring ? bench::uring::make_mcast_rx() : bench::epoll::make_mcast_rx();
  bench::loopback_sender tx(rx->port(), datagram_size, [](std::span<std::byte> d, std::uint64_t seq) {
    mcast::write_header(d.first<mcast::header_size>(), {.seq = seq});
  });
  constexpr const char* too_small =
      "the socket queue did not hold one batch of datagrams (not root? raise net.core.rmem_max)";
  if (tx.send(batch) != batch || rx->receive(batch).timed_out) return st.SkipWithError(too_small);   // warm-up
  bench::rx_result total;
  std::uint64_t allocs = 0;
  for (auto _ : st) {
    if (tx.send(batch) != batch) return st.SkipWithError("sendmmsg failed on loopback");
    const std::uint64_t a0 = g_allocs.load();
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = rx->receive(batch);
    st.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    allocs += g_allocs.load() - a0;
    total.packets += r.packets;
    total.cpu_ns += r.cpu_ns;
    total.in_order += r.in_order;
    total.repeated += r.repeated;
    if (r.timed_out) return st.SkipWithError(too_small);
  }
  report(st, total, allocs);
}

template <bool Offload>
void BM_bypass_sim(benchmark::State& st) {
  bench::pin_to_cpu(0);
  std::optional<bench::sim_feed> feed;   // the same lane callgrind_rx counts instructions on
  try {
    feed.emplace(bench::sim_feed_options{.rx_csum_offload = Offload});
  } catch (const std::exception& e) {
    return st.SkipWithError(e.what());
  }
  auto& ctx = feed->ctx;
  auto& svc = feed->svc;
  mcast::receiver<bypass::udp::socket> app(*feed->sock, mcast::sequence_tracker::from_first_received());
  bench::rx_result total;
  app.start([&](const mcast::message& m) {
    ++total.packets;
    bench::count_verdict(total, m.verdict);
    return true;
  }, [](std::string_view) {});
  svc.start();
  while (total.packets < batch) ctx.run_one();   // warm up: the recycling caches fill here
  total = {};
  std::uint64_t allocs = 0;
  for (auto _ : st) {
    const std::uint64_t target = total.packets + batch, a0 = g_allocs.load(), cpu0 = bench::thread_cpu_ns();
    while (total.packets < target) ctx.run_one();
    total.cpu_ns += bench::thread_cpu_ns() - cpu0;
    allocs += g_allocs.load() - a0;
  }
  svc.stop();
  report(st, total, allocs);
}

BENCHMARK(BM_kernel_app<false>)->Name("kernel_app/epoll")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel_app<true>)->Name("kernel_app/uring")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bypass_sim<false>)->Name("bypass_sim/csum_sw")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bypass_sim<true>)->Name("bypass_sim/csum_offload")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
