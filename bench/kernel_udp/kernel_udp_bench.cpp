// Kernel UDP receive over loopback with Asio: epoll against io_uring, 64 B and 1400 B datagrams.
// A blocking sendmmsg loop (bench/kernel_udp/loopback_sender.hpp, 32 datagrams a call) runs on its own
// thread pinned to CPU 1; the receiver runs on the benchmark thread pinned to CPU 0. One benchmark
// iteration receives a batch of 20000 datagrams. Counters, each from this benchmark alone (ratios
// between rows are the report's: bench/report.py):
//   items_per_second   datagrams received per second (wall)
//   ns_per_pkt         wall time per datagram received
//   rx_cpu_ns_per_pkt  the receiving thread's CPU time per datagram (what the receive path costs)
//   delivered          received / sent in the run (loopback drops when the receiver falls behind)
// On loopback the sender's core also does the kernel's receive work (softirq), so it often sets the
// rate; rx_cpu_ns_per_pkt is the figure to compare with bypass receive paths.
#include <benchmark/benchmark.h>

#include <chrono>

#include "bench/kernel_udp/loopback_sender.hpp"
#include "bench/kernel_udp/udp_rx.hpp"

namespace {

using namespace ringlab::bench;

constexpr std::uint64_t batch = 20000;

template <bool Uring>
void BM_kernel_udp_rx(benchmark::State& st) {
  const auto size = static_cast<std::size_t>(st.range(0));
  pin_to_cpu(0);
  auto rx = Uring ? uring::make_udp_rx() : epoll::make_udp_rx();
  loopback_sender tx(rx->port(), size);
  tx.start();
  if (rx->receive(2000).timed_out) return st.SkipWithError("no traffic for 5 s (warm-up)");
  const std::uint64_t sent0 = tx.sent();
  rx_result total;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    const auto r = rx->receive(batch);
    total.packets += r.packets;
    total.bytes += r.bytes;
    total.cpu_ns += r.cpu_ns;
    if (r.timed_out) return st.SkipWithError("no traffic for 5 s");
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::uint64_t sent = tx.sent() - sent0;
  if (total.packets == 0) return st.SkipWithError("received nothing");
  st.SetItemsProcessed(static_cast<std::int64_t>(total.packets));
  st.SetBytesProcessed(static_cast<std::int64_t>(total.bytes));
  const auto packets = static_cast<double>(total.packets);
  st.counters["ns_per_pkt"] = secs * 1e9 / packets;
  st.counters["rx_cpu_ns_per_pkt"] = static_cast<double>(total.cpu_ns) / packets;
  st.counters["delivered"] = sent ? packets / static_cast<double>(sent) : 0;
}

BENCHMARK(BM_kernel_udp_rx<false>)->Name("kernel_udp_rx/epoll")->Arg(64)->Arg(1400)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel_udp_rx<true>)->Name("kernel_udp_rx/uring")->Arg(64)->Arg(1400)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
