// Receive rate per core from one pcap of 64-byte frames: sim_nic (ingest + one queue drained on the
// same core, tracing off and on) against DPDK's net_pcap vdev (infinite_rx: it too replays from memory,
// copying each frame into an mbuf), side by side in one run. Reports frames/s (items_per_second; ns per
// frame is its inverse); the ratios sim_nic/net_pcap and tracing on/off are bench/report.py's.
#include <benchmark/benchmark.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <string>
#include <unistd.h>

#include "trace/trace.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab;

namespace {
constexpr std::size_t trace_frames = 4096;

const std::string& pcap_path() {
  static const std::string path = [] {
    std::string p = "/tmp/ringlab-bench-sim-nic-" + std::to_string(::getpid()) + ".pcap";
    std::vector<simtest::pcap_frame> frames;
    for (std::uint32_t i = 0; i < trace_frames; ++i) frames.push_back({simtest::flow_frame(i % 512), 1'000'000'000ull + i * 100});
    simtest::write_pcap(p, frames);
    return p;
  }();
  return path;
}

const sim::pcap_trace& trace_file() {
  static const sim::pcap_trace t = *sim::pcap_trace::open(pcap_path());
  return t;
}

void sim_nic_rx(benchmark::State& state, const char* ring, bool tracing, std::uint16_t queues = 1) {
  sim::sim_nic_config c;
  c.ring = ring;
  c.queues = queues;
  c.ring_size = 1024;
  sim::sim_nic nic(c);
  nic.load(trace_file());
  trace::drain();
  trace::enable(tracing);
  port::frame_ref f[32];
  std::uint64_t frames = 0, bytes = 0;
  for (auto _ : state) {
    if (nic.step(32) == 0) {
      nic.load(trace_file());   // loop the trace (cheap: resets the replay position)
      if (tracing) {
        state.PauseTiming();
        trace::drain();
        state.ResumeTiming();
      }
      continue;
    }
    for (std::uint16_t q = 0; q < queues; ++q) {
      const std::size_t n = nic.queue(q).rx_burst(f);
      for (std::size_t i = 0; i < n; ++i) bytes += f[i].bytes.size();
      nic.queue(q).rx_release({f, n});
      frames += n;
    }
  }
  trace::enable(false);
  trace::drain();
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.counters["imissed"] = static_cast<double>(nic.counters().total.imissed);
}

void BM_sim_nic_rx_spsc(benchmark::State& s) { sim_nic_rx(s, "spsc", false); }
void BM_sim_nic_rx_spsc_traced(benchmark::State& s) { sim_nic_rx(s, "spsc", true); }
void BM_sim_nic_rx_rte_ring(benchmark::State& s) { sim_nic_rx(s, "rte-ring", false); }
// Four queues with Toeplitz RSS, all drained on this one core: the cost of parsing and hashing.
void BM_sim_nic_rx_spsc_rss4(benchmark::State& s) { sim_nic_rx(s, "spsc", false, 4); }

int eal_state = -1;  // -1 not tried, 0 failed, 1 up

bool eal_started(std::string& why) {
  int& state = eal_state;
  static std::string err;
  if (state < 0) {
    std::vector<std::string> args = {"sim_nic_bench", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0",
                                     "--log-level=*:error", "--vdev=net_pcap0,rx_pcap=" + pcap_path() + ",infinite_rx=1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    state = rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0 ? 1 : 0;
    if (!state) err = std::string("rte_eal_init: ") + rte_strerror(rte_errno);
  }
  why = err;
  return state == 1;
}

// The net_pcap port and its mbuf pool, made on first use and torn down (port closed, pool freed, EAL
// cleaned up) by eal_stop() at exit, so a leak checker sees nothing left behind.
rte_mempool* net_pcap_pool = nullptr;
int net_pcap_port_state = -1;  // -1 not tried, 0 failed, 1 started

void eal_stop() {
  if (net_pcap_port_state == 1) {
    rte_eth_dev_stop(0);
    rte_eth_dev_close(0);
  }
  if (net_pcap_pool) rte_mempool_free(net_pcap_pool);
  if (eal_state == 1) rte_eal_cleanup();
}

void BM_dpdk_net_pcap_rx(benchmark::State& state) {
  std::string why;
  if (!eal_started(why)) { state.SkipWithError(why.c_str()); return; }
  if (net_pcap_port_state < 0) {
    net_pcap_pool = rte_pktmbuf_pool_create("bench_mp", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    rte_eth_conf conf{};
    net_pcap_port_state = net_pcap_pool && rte_eth_dev_configure(0, 1, 1, &conf) == 0 &&
                          rte_eth_rx_queue_setup(0, 0, 1024, SOCKET_ID_ANY, nullptr, net_pcap_pool) == 0 &&
                          rte_eth_tx_queue_setup(0, 0, 1024, SOCKET_ID_ANY, nullptr) == 0 && rte_eth_dev_start(0) == 0;
  }
  if (net_pcap_port_state != 1) { state.SkipWithError("net_pcap port did not start"); return; }
  rte_mbuf* m[32];
  std::uint64_t frames = 0, bytes = 0;
  for (auto _ : state) {
    const std::uint16_t n = rte_eth_rx_burst(0, 0, m, 32);
    for (std::uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_data_len(m[i]);
    rte_pktmbuf_free_bulk(m, n);
    frames += n;
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
}

BENCHMARK(BM_dpdk_net_pcap_rx);
BENCHMARK(BM_sim_nic_rx_spsc);
BENCHMARK(BM_sim_nic_rx_rte_ring);
BENCHMARK(BM_sim_nic_rx_spsc_rss4);
BENCHMARK(BM_sim_nic_rx_spsc_traced);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  eal_stop();
  std::remove(pcap_path().c_str());
  return 0;
}
