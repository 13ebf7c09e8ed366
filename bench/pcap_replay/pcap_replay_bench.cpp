// Replay throughput from a pcap file on disk (page cache warm: the file was just written and is read
// once before timing), per core: sim_nic replaying a pcap_stream (ingest + one queue drained) beside
// DPDK's net_pcap vdev reading the same file (rx_pcap=, no infinite_rx: it too streams through
// libpcap, copying each frame into an mbuf). At the end of the file each side starts over (sim_nic
// loads the stream again, re-opening the file; net_pcap's port is stopped and started, which re-opens
// it), inside the timing for both. `stream_only` is pcap_stream alone (libpcap's read + our record
// bookkeeping), the reader's share of the sim_nic row. Ratios to net_pcap are bench/report.py's.
#include <benchmark/benchmark.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "sim_nic/pcap_stream.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tools/gen_trace/gen_trace.hpp"

using namespace ringlab;

namespace {
constexpr std::uint64_t trace_packets = 1'000'000;   // 66-byte frames, ~82 MB

const std::string& pcap_path() {
  static const std::string path = [] {
    std::string p = "/tmp/ringlab-bench-pcap-replay-" + std::to_string(::getpid()) + ".pcap";
    gen_trace::options o;
    o.what = gen_trace::kind::flows;
    o.count = trace_packets;
    o.size = 24;   // the 24-byte header only: 14 + 20 + 8 + 24 = 66-byte frames
    o.pps = 1e6;
    if (const std::string e = gen_trace::generate_pcap(p, o); !e.empty()) std::fprintf(stderr, "%s\n", e.c_str());
    // Warm the page cache: one read of the whole file before any timing.
    if (FILE* f = std::fopen(p.c_str(), "rb")) {
      std::vector<char> buf(1 << 20);
      while (std::fread(buf.data(), 1, buf.size(), f) > 0) {}
      std::fclose(f);
    }
    return p;
  }();
  return path;
}

void BM_pcap_replay_sim_nic_stream(benchmark::State& state) {
  auto s = sim::pcap_stream::open(pcap_path());
  if (!s) { state.SkipWithError(s.error.c_str()); return; }
  sim::sim_nic_config c;
  c.ring_size = 1024;
  sim::sim_nic nic(c);
  nic.load(*s);
  port::frame_ref f[32];
  std::uint64_t frames = 0, bytes = 0, passes = 0;
  for (auto _ : state) {
    if (nic.step(32) == 0) {
      nic.load(*s);   // the end of the file: start over (re-opens it)
      ++passes;
      continue;
    }
    const std::size_t n = nic.queue(0).rx_burst(f);
    for (std::size_t i = 0; i < n; ++i) bytes += f[i].bytes.size();
    nic.queue(0).rx_release({f, n});
    frames += n;
  }
  if (!nic.trace_error().empty()) state.SkipWithError(nic.trace_error().c_str());
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.counters["passes"] = static_cast<double>(passes);
  state.counters["imissed"] = static_cast<double>(nic.counters().total.imissed);
}

void BM_pcap_replay_stream_only(benchmark::State& state) {
  auto s = sim::pcap_stream::open(pcap_path());
  if (!s) { state.SkipWithError(s.error.c_str()); return; }
  std::uint64_t frames = 0, bytes = 0;
  for (auto _ : state) {
    for (int i = 0; i < 32; ++i) {
      const sim::stream_frame* f = s->peek();
      if (!f) {
        s->restart();
        break;
      }
      bytes += f->bytes.size() + static_cast<std::size_t>(f->bytes[0]);
      s->pop();
      ++frames;
    }
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
}

int eal_state = -1;  // -1 not tried, 0 failed, 1 up

bool eal_started(std::string& why) {
  static std::string err;
  if (eal_state < 0) {
    std::vector<std::string> args = {"pcap_replay_bench", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0",
                                     "--log-level=*:error", "--vdev=net_pcap0,rx_pcap=" + pcap_path()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    eal_state = rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0 ? 1 : 0;
    if (!eal_state) err = std::string("rte_eal_init: ") + rte_strerror(rte_errno);
  }
  why = err;
  return eal_state == 1;
}

rte_mempool* net_pcap_pool = nullptr;
int port_state = -1;  // -1 not tried, 0 failed, 1 started

void eal_stop() {
  if (port_state == 1) {
    rte_eth_dev_stop(0);
    rte_eth_dev_close(0);
  }
  if (net_pcap_pool) rte_mempool_free(net_pcap_pool);
  if (eal_state == 1) rte_eal_cleanup();
}

void BM_pcap_replay_dpdk_net_pcap(benchmark::State& state) {
  std::string why;
  if (!eal_started(why)) { state.SkipWithError(why.c_str()); return; }
  if (port_state < 0) {
    net_pcap_pool = rte_pktmbuf_pool_create("replay_mp", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    rte_eth_conf conf{};
    port_state = net_pcap_pool && rte_eth_dev_configure(0, 1, 1, &conf) == 0 &&
                 rte_eth_rx_queue_setup(0, 0, 1024, SOCKET_ID_ANY, nullptr, net_pcap_pool) == 0 &&
                 rte_eth_tx_queue_setup(0, 0, 1024, SOCKET_ID_ANY, nullptr) == 0 && rte_eth_dev_start(0) == 0;
  }
  if (port_state != 1) { state.SkipWithError("net_pcap port did not start"); return; }
  rte_mbuf* m[32];
  std::uint64_t frames = 0, bytes = 0, passes = 0;
  for (auto _ : state) {
    const std::uint16_t n = rte_eth_rx_burst(0, 0, m, 32);
    if (n == 0) {
      // The end of the file: net_pcap re-opens its rx_pcap when the port starts again.
      rte_eth_dev_stop(0);
      if (rte_eth_dev_start(0) != 0) { state.SkipWithError("net_pcap port did not restart"); port_state = 0; return; }
      ++passes;
      continue;
    }
    for (std::uint16_t i = 0; i < n; ++i) bytes += rte_pktmbuf_data_len(m[i]);
    rte_pktmbuf_free_bulk(m, n);
    frames += n;
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.counters["passes"] = static_cast<double>(passes);
}

BENCHMARK(BM_pcap_replay_dpdk_net_pcap);
BENCHMARK(BM_pcap_replay_sim_nic_stream);
BENCHMARK(BM_pcap_replay_stream_only);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  pcap_path();   // written and read once before any timing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  eal_stop();
  std::remove(pcap_path().c_str());
  return 0;
}
