// A real peer: DPDK's net_pcap vdev reads the same pcap as sim_nic; both must deliver the same frames,
// byte for byte, in the same order (one queue on each side). EAL flags from docs/machine-findings.md.
#include <gtest/gtest.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdlib>
#include <filesystem>

#include "sim_nic/sim_nic.hpp"
#include "tests/unit/sim_nic/frames.hpp"
#include "tests/support/preconditions.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

namespace {

// One EAL per process: started for the first file, with net_pcap vdevs for every file we compare.
std::vector<std::string>& files() {
  static std::vector<std::string> f;
  return f;
}

std::string make_mixed_pcap() {
  const std::string path = "/tmp/ringlab-sim-netpcap-" + std::to_string(::getpid()) + ".pcap";
  std::vector<pcap_frame> frames;
  for (std::uint32_t i = 0; i < 2000; ++i) {
    auto f = flow_frame(i % 300, (i * 37) % 1400 + 18);
    if (i % 11 == 0) { f[12] = std::byte{0x86}; f[13] = std::byte{0xdd}; }   // not IPv4: queue 0, hash 0
    frames.push_back({f, 1'700'000'000'000'000'000ull + i * 1234});
  }
  write_pcap(path, frames);
  return path;
}

bool eal_up = false;
std::string eal_error, missing_traces;

void start_eal() {
  static bool tried = false;
  if (tried) return;
  tried = true;
  files().push_back(make_mixed_pcap());
  const char* src = std::getenv("RINGLAB_SOURCE_DIR");
  for (const char* name : {"traces/flows.pcap", "traces/mcast-feed.pcap"}) {   // committed: missing is a failure
    const auto p = std::filesystem::path(src ? src : ".") / name;
    if (std::filesystem::exists(p))
      files().push_back(p.string());
    else
      missing_traces += p.string() + " ";
  }
  std::vector<std::string> args = {"net_pcap_peer_test", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                   "-l", "0", "--log-level=*:error"};
  for (std::size_t i = 0; i < files().size(); ++i)
    args.push_back("--vdev=net_pcap" + std::to_string(i) + ",rx_pcap=" + files()[i]);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    eal_error = std::string("rte_eal_init failed: ") + rte_strerror(rte_errno);
    return;
  }
  eal_up = true;
}

std::vector<bytes> read_with_net_pcap(std::uint16_t port_id) {
  std::vector<bytes> out;
  static rte_mempool* mp = rte_pktmbuf_pool_create("sim_cmp", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (!mp) return out;
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port_id, 1, 1, &conf) < 0) return out;
  if (rte_eth_rx_queue_setup(port_id, 0, 512, SOCKET_ID_ANY, nullptr, mp) < 0) return out;
  if (rte_eth_tx_queue_setup(port_id, 0, 512, SOCKET_ID_ANY, nullptr) < 0) return out;
  if (rte_eth_dev_start(port_id) < 0) return out;
  rte_mbuf* m[32];
  for (int idle = 0; idle < 100;) {
    const std::uint16_t n = rte_eth_rx_burst(port_id, 0, m, 32);
    idle = n ? 0 : idle + 1;
    for (std::uint16_t i = 0; i < n; ++i) {
      const auto* d = rte_pktmbuf_mtod(m[i], const std::byte*);
      out.emplace_back(d, d + rte_pktmbuf_data_len(m[i]));
      rte_pktmbuf_free(m[i]);
    }
  }
  rte_eth_dev_stop(port_id);
  return out;
}

std::vector<bytes> read_with_sim_nic(const std::string& path, const char* ring) {
  auto t = sim::pcap_trace::open(path);
  EXPECT_TRUE(t) << t.error;
  std::vector<bytes> out;
  if (!t) return out;
  sim::sim_nic_config c;
  c.ring = ring;
  c.mtu = 9000;   // net_pcap has no MTU check on receive
  sim::sim_nic nic(c);
  nic.load(*t);
  port::frame_ref f[32];
  while (nic.step(512)) {
    std::size_t n;
    while ((n = nic.queue(0).rx_burst(f)) > 0) {
      for (std::size_t i = 0; i < n; ++i) out.emplace_back(f[i].bytes.begin(), f[i].bytes.end());
      nic.queue(0).rx_release({f, n});
    }
  }
  EXPECT_EQ(nic.counters().total.imissed, 0u);
  return out;
}

}  // namespace

TEST(sim_nic_vs_net_pcap, same_frames_byte_for_byte_in_the_same_order) {
  // What the EAL needs without hugepages, probed apart from DPDK: past this, an EAL that does not
  // start is a failure.
  RINGLAB_REQUIRE(ringlab::netlab::dpdk_eal_unavailable());
  start_eal();
  ASSERT_EQ(missing_traces, "") << "committed traces are missing";
  ASSERT_TRUE(eal_up) << "DPDK EAL did not start: " << eal_error;
  ASSERT_EQ(rte_eth_dev_count_avail(), files().size()) << "net_pcap driver not linked in";
  for (std::uint16_t p = 0; p < files().size(); ++p) {
    SCOPED_TRACE(files()[p]);
    const auto dpdk = read_with_net_pcap(p);
    for (const char* ring : {"spsc", "rte-ring"}) {
      const auto ours = read_with_sim_nic(files()[p], ring);
      ASSERT_EQ(ours.size(), dpdk.size()) << ring;
      ASSERT_GT(ours.size(), 0u);
      for (std::size_t i = 0; i < ours.size(); ++i) ASSERT_EQ(ours[i], dpdk[i]) << ring << " frame " << i;
    }
  }
  std::remove(files()[0].c_str());
}
