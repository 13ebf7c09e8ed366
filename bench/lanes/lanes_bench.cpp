// Every core over sim_nic: packets/s through the whole receive path (sim_nic's RX ring -> rx_burst ->
// stack -> bypass socket -> Asio handler), 1 lane vs 2 lanes, the same offered flows. A lane is one
// thread pinned to its own CPU with its own io_context, bypass_service and sockets, driving one RX
// queue (as tests/stress/bypass/bypass_all_cores_test.cpp sets it up); RSS spreads the flows.
//
// Preloaded rings (README.md says why): each iteration the main thread replays `offered` frames into
// the rings while the lanes sleep (not timed), then wakes the lanes and times until each has run a
// handler for every frame on its queue. sim_nic's ingest (the copy into the pool, RSS) is therefore
// not in the figure: on these 2-vCPU machines a live ingest thread would take one of the two CPUs the
// lanes need. The preloaded frames are then evicted from every cache (evict_frames), as a NIC's DMA
// leaves them in memory, so no lane reads them from the preloading CPU's cache.
//
// Rows: lanes/1, lanes/2 (lane caches of 256 frames) and the same with no lane caches
// (every burst's release takes the pool's one mutex). Counters: lane_pool_locks_per_pkt, the pool
// mutex acquisitions while the lanes ran, per packet (where the lanes still meet), and
// ingest_pool_locks_per_pkt, those of the preload.
#include <benchmark/benchmark.h>
#include <emmintrin.h>   // _mm_clflush, _mm_mfence (SSE2: every x86-64)
#include <pthread.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "bench/bypass_udp/sim_feed.hpp"
#include "bench/cpu.hpp"
#include "sim_nic/pcap_trace.hpp"
#include "tools/gen_trace/gen_trace.hpp"

namespace {

using namespace ringlab;
using audp = asio::ip::udp;

constexpr std::size_t offered = 8192;   // frames per iteration, over all lanes
constexpr std::uint16_t ports = 4;      // gen_trace flows go to ports first_port .. first_port + 3

sim::pcap_trace make_trace() {
  gen_trace::options g;
  g.what = gen_trace::kind::flows;
  g.flows = 256;
  g.count = offered;
  g.size = 32;
  return bench::trace_of(g);
}

// Where a NIC's DMA leaves a received frame: in memory, in no core's cache. The preload's copies are
// written by the main thread, so without this the frames sit dirty in the cache of whichever CPU the
// main thread ran on: a lane on that CPU reads them locally, a lane on the other CPU fetches every frame
// from the other core (measured here: lanes/1 takes 3.7x as long with the preload on the other CPU as
// on its own). With 2 lanes one of them is always the remote one, so 2 lanes vs 1 compared a remote
// read per packet with a local one. Evicting the first two lines of every frame (the headers and the
// 32-byte payload) makes every lane's first touch the same memory read, whichever CPU did the preload.
void evict_frames(port::frame_pool& pool) noexcept {
  const std::size_t frames = pool.config().frames;
  for (std::size_t id = 0; id < frames; ++id) {
    const std::byte* p = pool.data(static_cast<port::frame_id>(id));
    _mm_clflush(p);
    _mm_clflush(p + 64);
  }
  _mm_mfence();
}

// One lane: its thread, io_context, service and one socket per destination port.
class lane {
 public:
  lane(bypass::device& dev, std::uint16_t q, std::atomic<std::uint64_t>& gen, std::atomic<int>& done)
      : dev_(dev), q_(q), gen_(gen), done_(done), thread_([this] { run(); }) {
    ready_.wait(false);
    if (!error_.empty()) throw std::runtime_error(error_);
  }
  ~lane() {
    stop_ = true;
    gen_.fetch_add(1);
    gen_.notify_all();
    thread_.join();
  }
  void set_target(std::uint64_t n) noexcept { target_ = n; }   // before the generation bump
  std::uint64_t received() const noexcept { return got_.load(std::memory_order_relaxed); }
  // The lane thread's own CPU time while it ran its frames (all generations so far): what the lane
  // cost, whatever share of a CPU the machine's other load left it.
  std::uint64_t cpu_ns() const noexcept { return cpu_ns_.load(std::memory_order_relaxed); }

 private:
  void run() {
    const std::string name = "lane-q" + std::to_string(q_);
    pthread_setname_np(pthread_self(), name.c_str());
    bench::pin_to_cpu(q_);
    asio::io_context ctx{1};
    auto& svc = asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config c;
    c.iface.mac = gen_trace::host_mac;
    c.iface.addr = gen_trace::host_ip;
    c.iface.socket_queue_depth = offered;
    c.drive = bypass::drive_mode::busy_poll;
    c.clock = dev_.clock();
    std::vector<std::unique_ptr<bypass::udp::socket>> socks;
    struct rx {
      std::array<char, 64> buf{};
      audp::endpoint from;
    };
    std::vector<rx> bufs(ports);
    std::function<void(std::size_t)> arm = [&](std::size_t i) {
      socks[i]->async_receive_from(asio::buffer(bufs[i].buf), bufs[i].from, [&, i](std::error_code ec, std::size_t) {
        if (ec) return;
        got_.store(got_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        arm(i);
      });
    };
    try {
      if (auto ec = svc.attach(dev_.queue(q_), c)) throw std::system_error(ec, "attach");
      for (std::uint16_t p = 0; p < ports; ++p)
        socks.push_back(std::make_unique<bypass::udp::socket>(
            ctx, audp::endpoint(audp::v4(), static_cast<std::uint16_t>(gen_trace::first_port + p))));
      for (std::size_t i = 0; i < ports; ++i) arm(i);
      svc.start();
    } catch (const std::exception& e) {
      error_ = std::string("lane ") + std::to_string(q_) + ": " + e.what();
    }
    ready_ = true;
    ready_.notify_all();
    if (!error_.empty()) return;
    std::uint64_t seen = gen_.load();
    while (true) {
      gen_.wait(seen);
      seen = gen_.load();
      if (stop_) break;
      const std::uint64_t want = target_;
      const std::uint64_t c0 = bench::thread_cpu_ns();
      while (got_.load(std::memory_order_relaxed) < want) ctx.run_one();
      cpu_ns_.fetch_add(bench::thread_cpu_ns() - c0, std::memory_order_relaxed);
      done_.fetch_add(1);
      done_.notify_all();
    }
    svc.stop();
    for (auto& s : socks) s->close();
  }

  bypass::device& dev_;
  std::uint16_t q_;
  std::atomic<std::uint64_t>& gen_;
  std::atomic<int>& done_;
  std::atomic<bool> ready_{false};
  std::string error_;
  std::uint64_t target_ = 0;     // written by main before the bump that the lane acquires
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> got_{0};
  std::atomic<std::uint64_t> cpu_ns_{0};
  std::thread thread_;
};

void bm_lanes(benchmark::State& state, std::uint16_t lanes, bool caches) {
  const auto trace = make_trace();
  bypass::device_options d;
  d.queues = lanes;
  d.trace = &trace;
  d.sim.timing.loops = 1'000'000;
  d.sim.ring_size = 2 * offered;   // RSS is uneven: one ring may take more than half
  d.sim.pool = {.frames = 4 * offered, .frame_size = 2048, .headroom = 256};
  d.sim.lane_cache = caches ? 256 : 0;   // 1 lane too: the rows differ in lanes only
  std::string why;
  auto dev = bypass::open_device(d, why);
  if (!dev) return state.SkipWithError(("cannot open the sim device: " + why).c_str());
  sim::sim_nic& nic = *dev->sim_nic();
  port::frame_pool& pool = nic.pool();

  std::atomic<std::uint64_t> gen{0};
  std::atomic<int> done{0};
  std::vector<std::unique_ptr<lane>> ls;
  try {
    for (std::uint16_t q = 0; q < lanes; ++q) ls.push_back(std::make_unique<lane>(*dev, q, gen, done));
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  std::vector<std::uint64_t> target(lanes, 0);
  std::uint64_t packets = 0, lane_locks = 0, ingest_locks = 0;
  double wall_s = 0;
  for (auto _ : state) {
    // Preload (not timed): `offered` frames into the rings while the lanes sleep.
    const std::uint64_t l0 = pool.lock_acquisitions();
    for (std::size_t moved = 0; moved < offered;) moved += nic.step(offered - moved);
    const auto c = nic.counters();
    ingest_locks += pool.lock_acquisitions() - l0;
    evict_frames(pool);
    for (std::uint16_t q = 0; q < lanes; ++q) {
      target[q] = c.queue[q].ipackets;   // cumulative, as each lane's count of handlers run
      ls[q]->set_target(target[q]);
    }
    done.store(0);
    const std::uint64_t l1 = pool.lock_acquisitions();
    const auto t0 = std::chrono::steady_clock::now();
    gen.fetch_add(1);
    gen.notify_all();
    for (int n = done.load(); n < lanes; n = done.load()) done.wait(n);
    const auto t1 = std::chrono::steady_clock::now();
    lane_locks += pool.lock_acquisitions() - l1;
    packets += offered;
    wall_s += std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  const auto c = nic.counters();
  std::uint64_t got = 0;
  std::uint64_t cpu = 0;
  for (auto& l : ls) got += l->received(), cpu += l->cpu_ns();
  ls.clear();
  if (c.total.imissed || c.total.rx_nombuf || got != packets) {
    return state.SkipWithError(("lost frames: imissed " + std::to_string(c.total.imissed) + ", rx_nombuf " +
                                std::to_string(c.total.rx_nombuf) + ", handled " + std::to_string(got) + " of " +
                                std::to_string(packets)).c_str());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(packets));
  state.counters["lanes"] = lanes;
  state.counters["lane_pool_locks_per_pkt"] = static_cast<double>(lane_locks) / static_cast<double>(packets);
  // Lane CPU ns per packet (summed over lanes): equal in both rows when the lanes do not slow each
  // other; then lanes/2 / lanes/1 below 2 is CPU the lanes did not get, not work they added.
  state.counters["lane_cpu_ns_per_pkt"] = static_cast<double>(cpu) / static_cast<double>(packets);
  // The share of their CPUs the lanes ran on while timed (1: each lane had its CPU throughout); the
  // rest went to the VM's other processes (the load average) or to waking up.
  state.counters["lane_cpu_share"] = static_cast<double>(cpu) * 1e-9 / (wall_s * lanes);
  state.counters["ingest_pool_locks_per_pkt"] = static_cast<double>(ingest_locks) / static_cast<double>(packets);
  for (std::uint16_t q = 0; q < lanes; ++q) {
    std::string name = "q";   // appended piece by piece: GCC 12 -O3 warns falsely on `"q" + std::string&&`
    name += std::to_string(q);
    name += "_share";
    state.counters[name] = static_cast<double>(c.queue[q].ipackets) / static_cast<double>(c.total.ipackets);
  }
}

}  // namespace

BENCHMARK_CAPTURE(bm_lanes, lanes/1, 1, true)->Name("lanes/1")->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_lanes, lanes/2, 2, true)->Name("lanes/2")->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_lanes, lanes/1/no_cache, 1, false)->Name("lanes/1/no_cache")->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_lanes, lanes/2/no_cache, 2, false)->Name("lanes/2/no_cache")->UseManualTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
