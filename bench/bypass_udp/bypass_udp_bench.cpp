// Before and after: one receiver application (mcast::receiver, tools/mcast/app.hpp) over
//   kernel_epoll   asio::ip::udp::socket on 127.0.0.1, a sender thread blasting 64-byte datagrams
//   bypass_sim     ringlab::bypass::udp::socket on sim_nic replaying a preloaded trace, looped, from
//                  memory; ingest + stack poll + handler all on this one core
// Counters: items/s, ns/packet, heap allocations per packet (global operator new is replaced by a
// counting one in this binary). The kernel io_uring peer is not in this binary yet (see README).
#include <benchmark/benchmark.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <thread>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "tools/gen_trace/gen_trace.hpp"
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

void BM_bypass_sim(benchmark::State& st) {
  gen_trace::options g;
  g.count = 4096;
  g.groups = 1;
  g.size = 64;
  auto pk = gen_trace::generate(g);
  std::vector<std::vector<std::byte>> frames;
  std::vector<std::uint64_t> ts;
  for (auto& p : pk) frames.push_back(std::move(p.bytes)), ts.push_back(p.t_ns);
  const auto trace = sim::pcap_trace::from_frames(frames, ts);
  bypass::device_options d;
  d.trace = &trace;
  d.sim.timing.loops = 1'000'000;   // a preloaded trace, looped
  d.sim.pool = {.frames = 1024, .frame_size = 2048, .headroom = 256};
  std::string why;
  auto dev = bypass::open_device(d, why);
  if (!dev) return st.SkipWithError(why.c_str());
  asio::io_context ctx{1};
  auto& svc = asio::use_service<bypass::bypass_service>(ctx);
  bypass::lane_config c;
  c.iface.mac = gen_trace::host_mac;
  c.iface.addr = gen_trace::host_ip;
  c.drive = bypass::drive_mode::busy_poll;
  c.clock = dev->clock();
  c.ingest = dev->ingest();
  (void)svc.attach(dev->queue(0), c);
  bypass::udp::socket s(ctx, 1024);
  s.bind(asio::ip::udp::endpoint(asio::ip::udp::v4(), gen_trace::first_port));
  s.join_group(asio::ip::address_v4(gen_trace::first_group.value));
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
  st.counters["polls_per_pkt"] = static_cast<double>(svc.counters().polls) / static_cast<double>(got);
  svc.stop();
}

void BM_kernel_epoll_loopback(benchmark::State& st) {
  asio::io_context ctx{1};
  asio::ip::udp::socket s(ctx, asio::ip::udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  s.set_option(asio::socket_base::receive_buffer_size(4 << 20));
  const auto port = s.local_endpoint().port();
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::array<std::byte, 64> d{};
    std::uint64_t seq = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      mcast::write_header(std::span<std::byte, mcast::header_size>(d.data(), mcast::header_size), {.seq = seq++});
      (void)::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    }
    ::close(fd);
  });
  mcast::receiver<asio::ip::udp::socket> app(s, mcast::sequence_tracker::from_first_received());
  std::uint64_t got = 0;
  app.start([&](const mcast::message&) { return ++got, true; }, [](std::string_view) {});
  while (got < batch) ctx.run_one();
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
  st.counters["lost_in_kernel"] = static_cast<double>(app.stats().seq.lost);
  stop = true;
  sender.join();
}

BENCHMARK(BM_kernel_epoll_loopback)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bypass_sim)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
