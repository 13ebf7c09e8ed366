// Before and after, one binary, one run, 64-byte datagrams:
//   kernel_rx/{epoll,uring}   bench/kernel_udp's udp_rx (a bare chain of async_receive on
//                             asio::ip::udp::socket, 127.0.0.1), compiled once per io mode
//   kernel_app/{epoll,uring}  the receiver application (mcast::receiver, tools/mcast/app.hpp) on the
//                             same kernel socket, once per io mode (mcast_rx_io.cpp)
//   bypass_sim/csum_offload:{0,1}  the same mcast::receiver over ringlab::bypass::udp::socket on
//                             sim_nic replaying a preloaded trace, looped, from memory (sim_feed.hpp,
//                             shared with callgrind_rx); ingest + stack poll + handler all on this one
//                             core; 1: sim_nic checks the checksums at ingest (RX offload)
// The kernel rows get their datagrams from a sender thread (sendmmsg, 32 a call) on 127.0.0.1.
// Counters: items/s, ns/packet, heap allocations per packet (global operator new is replaced by a
// counting one in this binary, so it counts the per-mode kernel objects too), and on bypass_sim the
// ratios vs_epoll / vs_uring (bypass packets/s over kernel_app's, measured earlier in the same run).
// The kernel rows share their core with the sender's softirq work on loopback; callgrind_rx.sh gives
// the noise-free instruction count of the bypass path.
#include <benchmark/benchmark.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <optional>
#include <thread>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "bench/bypass_udp/mcast_rx.hpp"
#include "bench/bypass_udp/sim_feed.hpp"
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
constexpr std::size_t batch = 4096;   // packets per benchmark iteration

void report(benchmark::State& st, std::uint64_t packets, std::uint64_t allocs, double seconds) {
  st.SetItemsProcessed(static_cast<std::int64_t>(packets));
  st.counters["ns_per_pkt"] = seconds * 1e9 / static_cast<double>(packets ? packets : 1);
  st.counters["allocs_per_pkt"] = static_cast<double>(allocs) / static_cast<double>(packets ? packets : 1);
}

// packets/s of the kernel rows: [app][uring]; bypass_sim compares itself with the app rows
double g_kernel_rate[2][2] = {};

// Blasts 64-byte datagrams with numbered mcast headers at 127.0.0.1:port, 32 per sendmmsg, until
// destroyed.
class loopback_sender {
 public:
  explicit loopback_sender(std::uint16_t port) {
    thread_ = std::thread([this, port] {
      const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(port);
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
      constexpr int k = 32;
      std::array<std::array<std::byte, 64>, k> d{};
      iovec iov[k];
      mmsghdr msgs[k]{};
      for (int i = 0; i < k; ++i) {
        iov[i] = {d[i].data(), d[i].size()};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      std::uint64_t seq = 0;
      while (!stop_.load(std::memory_order_relaxed)) {
        for (auto& b : d)
          mcast::write_header(std::span<std::byte, mcast::header_size>(b.data(), mcast::header_size), {.seq = seq++});
        (void)::sendmmsg(fd, msgs, k, 0);
      }
      ::close(fd);
    });
  }
  ~loopback_sender() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// App: the mcast::receiver template (mcast_rx_io.cpp); else bench/kernel_udp's bare async_receive loop.
template <bool Uring, bool App>
void BM_kernel(benchmark::State& st) {
  auto rx = App ? (Uring ? bench::uring::make_mcast_rx() : bench::epoll::make_mcast_rx())
                : (Uring ? bench::uring::make_udp_rx() : bench::epoll::make_udp_rx());
  loopback_sender tx(rx->port());
  (void)rx->receive(batch);   // warm up
  std::uint64_t packets = 0, allocs = 0, cpu_ns = 0;
  double secs = 0;
  for (auto _ : st) {
    const std::uint64_t a0 = g_allocs.load();
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = rx->receive(batch);
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    allocs += g_allocs.load() - a0;
    packets += r.packets;
    cpu_ns += r.cpu_ns;
    if (r.timed_out) return st.SkipWithError("no traffic for 5 s");
  }
  report(st, packets, allocs, secs);
  st.counters["rx_cpu_ns_per_pkt"] = static_cast<double>(cpu_ns) / static_cast<double>(packets ? packets : 1);
  g_kernel_rate[App][Uring] = secs > 0 ? static_cast<double>(packets) / secs : 0;
}

void BM_bypass_sim(benchmark::State& st) {
  std::optional<bench::sim_feed> feed;   // the same lane callgrind_rx counts instructions on
  try {
    feed.emplace(bench::sim_feed_options{.rx_csum_offload = st.range(0) != 0});
  } catch (const std::exception& e) {
    return st.SkipWithError(e.what());
  }
  auto& ctx = feed->ctx;
  auto& svc = feed->svc;
  auto& s = *feed->sock;
  mcast::receiver<bypass::udp::socket> app(s, mcast::sequence_tracker(0));
  std::uint64_t got = 0;
  app.start([&](const mcast::message&) { return ++got, true; }, [](std::string_view) {});
  svc.start();
  while (got < batch) ctx.run_one();   // warm up: the recycling caches fill here
  std::uint64_t packets = 0, allocs = 0;
  double secs = 0;
  for (auto _ : st) {
    const std::uint64_t target = got + batch, a0 = g_allocs.load();
    const auto t0 = std::chrono::steady_clock::now();
    while (got < target) ctx.run_one();
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    allocs += g_allocs.load() - a0;
    packets += batch;
  }
  report(st, packets, allocs, secs);
  const double rate = secs > 0 ? static_cast<double>(packets) / secs : 0;
  if (g_kernel_rate[1][0] > 0) st.counters["vs_epoll"] = rate / g_kernel_rate[1][0];
  if (g_kernel_rate[1][1] > 0) st.counters["vs_uring"] = rate / g_kernel_rate[1][1];
  st.counters["polls_per_pkt"] = static_cast<double>(svc.counters().polls) / static_cast<double>(got);
  svc.stop();
}

// Order matters: the kernel rows run first so that bypass_sim can print its ratios.
BENCHMARK(BM_kernel<false, false>)->Name("kernel_rx/epoll")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel<true, false>)->Name("kernel_rx/uring")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel<false, true>)->Name("kernel_app/epoll")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_kernel<true, true>)->Name("kernel_app/uring")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bypass_sim)->ArgName("csum_offload")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
