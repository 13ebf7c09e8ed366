// The DPDK port over three real PMDs. net_ring and net_pcap need no privileges beyond what the EAL
// wants (--no-huge works as root); net_af_xdp needs root and a veth pair (label netns for all).
#include <pcap/pcap.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "backends/dpdk/dpdk_port.hpp"
#ifdef RINGLAB_AFXDP_BPF_OBJ_IPV4
#include "backends/afxdp/xdp_maps.hpp"
#endif
#include "tests/netns/afxdp/veth_pair.hpp"
#include "tests/support/preconditions.hpp"

// DPDK 22.11's net_af_xdp leaves libxdp's 80-byte umem struct behind when the ethdev closes, and with
// xdp_prog= never closes the bpf_object it opened (libbpf allocations). Not ours to fix, and only this
// binary opens net_af_xdp: tell LeakSanitizer, when it is linked in. (The afxdp tests run unsuppressed.)
extern "C" const char* __lsan_default_suppressions() { return "leak:xsk_umem__create\nleak:libbpf.so\n"; }

namespace dp = ringlab::backends::dpdk;
namespace tv = ringlab::test_veth;
using ringlab::port::frame_ref;

namespace {

std::string frame_bytes(int i) {
  // An Ethernet frame of varying length whose bytes name it (not a valid IP packet: the PMDs do not care).
  std::string f(14 + 46 + std::size_t((i * 53) % 1400), '\0');
  for (std::size_t k = 0; k < f.size(); ++k) f[k] = char((i * 7 + int(k)) & 0xff);
  f[12] = char(0x88);
  f[13] = char(0xb5);   // local experimental ethertype
  return f;
}

std::string as_string(const frame_ref& f) { return {reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size()}; }

std::vector<std::string> drain(ringlab::port::any_port& p, std::size_t want, int ms = 2000) {
  std::vector<std::string> got;
  std::array<frame_ref, 32> buf;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    const std::size_t n = p.rx_burst(buf);
    for (std::size_t i = 0; i < n; ++i) got.push_back(as_string(buf[i]));
    p.rx_release(std::span(buf).first(n));
    if (!n) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return got;
}

void send(ringlab::port::any_port& p, int first, int count) {
  int done = 0;
  while (done < count) {
    auto b = p.tx_reserve(std::size_t(count - done));
    ASSERT_GT(b.size(), 0u);
    for (std::size_t i = 0; i < b.size(); ++i) {
      const std::string f = frame_bytes(first + done + int(i));
      std::memcpy(b[i].bytes.data(), f.data(), f.size());
      b[i].bytes = b[i].bytes.first(f.size());
    }
    const std::size_t k = b.size();
    b.commit(k);
    done += int(k);
  }
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ringlab_" + std::to_string(getpid()) + "_" + name)).string();
}

// What the EAL needs without hugepages (no privilege here, a writable runtime directory), probed
// apart from DPDK (tools/netns/preconditions.hpp): past this, an EAL or a port that does not start is
// a failure.
#define REQUIRE_EAL() RINGLAB_REQUIRE(ringlab::netlab::dpdk_eal_unavailable())
// net_af_xdp's ground too: AF_XDP sockets on a veth.
#define REQUIRE_EAL_AND_AFXDP()                              \
  do {                                                       \
    REQUIRE_EAL();                                           \
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());   \
  } while (0)

}  // namespace

TEST(dpdk_port, net_ring_pair_loops_exact_frames_both_ways) {
  REQUIRE_EAL();
  auto pair = dp::make_ring_pair("rla", "rlb");
  ASSERT_TRUE(pair) << pair.error().reason;
  auto& a = *pair->a;
  auto& b = *pair->b;
  EXPECT_EQ(a.caps().name, "dpdk:net_ring_rla");
  constexpr int n = 200;
  std::vector<std::string> want;
  for (int i = 0; i < n; ++i) want.push_back(frame_bytes(i));
  for (int i = 0; i < n; i += 50) {   // the ring holds 1024; send in steps anyway
    send(a, i, 50);
  }
  const auto got = drain(b, n);
  dp::eth_stats sa;
  ASSERT_FALSE(a.stats(sa));
  ASSERT_EQ(got.size(), want.size()) << "a sent " << sa.opackets << ", tx_ring_full " << a.port_counters().tx_ring_full
                                     << ", tx_no_mbuf " << a.port_counters().tx_no_mbuf;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(got[std::size_t(i)] == want[std::size_t(i)]) << "frame " << i << " differs";
  send(b, 1000, 10);
  auto back = drain(a, 10);
  ASSERT_EQ(back.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(back[i], frame_bytes(1000 + i));
  EXPECT_EQ(a.pool().out(), 0u);   // copies: nothing stays out after release
  EXPECT_EQ(b.pool().out(), 0u);
  dp::eth_stats st;
  ASSERT_FALSE(a.stats(st));
  EXPECT_EQ(st.opackets, std::uint64_t(n));
  EXPECT_EQ(st.ipackets, 10u);
  EXPECT_EQ(a.port_counters().tx_packets, std::uint64_t(n));
  EXPECT_EQ(b.port_counters().rx_packets, std::uint64_t(n));
}

TEST(dpdk_port, net_pcap_replays_a_pcap_in_order_and_writes_what_we_send) {
  REQUIRE_EAL();
  const std::string in = temp_path("in.pcap"), out = temp_path("out.pcap");
  constexpr int n = 64;
  {
    pcap_t* d = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t* w = pcap_dump_open(d, in.c_str());
    ASSERT_NE(w, nullptr);
    for (int i = 0; i < n; ++i) {
      const std::string f = frame_bytes(i);
      pcap_pkthdr h{};
      h.ts.tv_sec = 1700000000 + i;
      h.caplen = h.len = bpf_u_int32(f.size());
      pcap_dump(reinterpret_cast<u_char*>(w), &h, reinterpret_cast<const u_char*>(f.data()));
    }
    pcap_dump_close(w);
    pcap_close(d);
  }
  {
    auto p = dp::port::open({.device = "net_pcap0,rx_pcap=" + in + ",tx_pcap=" + out});
    ASSERT_TRUE(p) << p.error().reason;
    auto got = drain(**p, n + 1, 500);   // asks for one more: the PMD stops at the end of the file
    ASSERT_EQ(got.size(), std::size_t(n));
    for (int i = 0; i < n; ++i) EXPECT_EQ(got[i], frame_bytes(i)) << "packet " << i + 1;
    send(**p, 500, 5);
    EXPECT_EQ((*p)->port_counters().tx_packets, 5u);
  }   // closing the port flushes tx_pcap
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* r = pcap_open_offline(out.c_str(), err);
  ASSERT_NE(r, nullptr) << err;
  pcap_pkthdr* h;
  const u_char* data;
  int k = 0;
  while (pcap_next_ex(r, &h, &data) == 1) {
    ASSERT_LT(k, 5);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(data), h->caplen), frame_bytes(500 + k)) << "written packet " << k + 1;
    ++k;
  }
  pcap_close(r);
  EXPECT_EQ(k, 5);
  std::filesystem::remove(in);
  std::filesystem::remove(out);
}

TEST(dpdk_port, bad_vdev_is_an_error_not_a_crash) {
  REQUIRE_EAL();
  auto p = dp::port::open({.device = "net_pcap9,rx_pcap=/nonexistent/x.pcap"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().reason.rfind("dpdk: net_pcap9: vdev init failed", 0), 0u) << p.error().reason;
}

// config::xdp writes into ringlab's XDP program: refused, before the EAL starts, for a device that
// cannot have it (no net_af_xdp, or net_af_xdp without xdp_prog=): the reason names what to give.
TEST(dpdk_port, xdp_config_is_refused_without_our_program) {
  const dp::xdp_program_config loss{.drop_ppm = 20000, .drop_seed = 7};
  auto pcap = dp::port::open({.device = "net_pcap9,rx_pcap=/nonexistent.pcap", .xdp = loss});
  ASSERT_FALSE(pcap);
  EXPECT_EQ(pcap.error().code, std::errc::invalid_argument);
  EXPECT_NE(pcap.error().reason.find("dpdk: net_pcap9: config::xdp"), std::string::npos) << pcap.error().reason;
  EXPECT_NE(pcap.error().reason.find("needs net_af_xdp with xdp_prog="), std::string::npos) << pcap.error().reason;
  auto af = dp::port::open({.device = "net_af_xdp9,iface=lo", .xdp = loss});
  ASSERT_FALSE(af);
  EXPECT_EQ(af.error().code, std::errc::invalid_argument);
  EXPECT_NE(af.error().reason.find("needs xdp_prog= ringlab's program"), std::string::npos) << af.error().reason;
}

TEST(dpdk_port, net_af_xdp_on_a_veth_receives_kernel_datagrams) {
  REQUIRE_EAL_AND_AFXDP();
  tv::veth_pair v("d1", {.a_address = false});
  ASSERT_TRUE(v.ok()) << v.error;
  // net_af_xdp loads libxdp's default program, which sends ARP to the socket too: nobody would answer
  // ns b's ARP request, so give ns b a static neighbour entry for 10.66.0.1.
  const auto m = v.mac(true);
  char mac[18];
  std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  ASSERT_EQ(tv::run("ip -n " + v.ns_b + " neigh add " + tv::veth_pair::addr_a + " lladdr " + mac + " dev " + v.if_b), 0);
  ASSERT_TRUE(v.enter_a());
  setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
  auto p = dp::port::open({.device = "net_af_xdp0,iface=" + v.if_a + ",start_queue=0,queue_count=1"});
  ASSERT_TRUE(p) << p.error().reason;
  const int s = v.socket_in_b(SOCK_DGRAM);
  const auto to = tv::ipv4(tv::veth_pair::addr_a, 5000);
  constexpr int n = 20;
  for (int i = 0; i < n; ++i) {
    const std::string pl = tv::payload_for(i);
    ASSERT_EQ(::sendto(s, pl.data(), pl.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), ssize_t(pl.size()));
  }
  // The interface may also carry IPv6 chatter (router solicitations): keep only our UDP datagrams.
  std::vector<std::string> payloads;
  std::array<frame_ref, 32> buf;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (payloads.size() < std::size_t(n) && std::chrono::steady_clock::now() < deadline) {
    const std::size_t k = (*p)->rx_burst(buf);
    for (std::size_t i = 0; i < k; ++i) {
      const auto u = tv::parse_udp(buf[i].bytes.data(), buf[i].bytes.size());
      if (u.ok && u.dport == 5000) payloads.push_back(u.payload);
    }
    (*p)->rx_release(std::span(buf).first(k));
    if (!k) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_EQ(payloads.size(), std::size_t(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(payloads[i], tv::payload_for(i)) << "datagram " << i;
  EXPECT_EQ((*p)->pool().out(), 0u);
  ::close(s);
}

TEST(dpdk_port, net_af_xdp_with_our_program_leaves_arp_to_the_kernel) {
#ifndef RINGLAB_AFXDP_BPF_OBJ_IPV4
  RINGLAB_REQUIRE(ringlab::netlab::not_built("the AF_XDP backend's XDP program", "libxdp-dev, libbpf-dev, clang"));
#else
  REQUIRE_EAL_AND_AFXDP();
  tv::veth_pair v("d2");   // the kernel in ns a owns 10.66.0.1 and answers ARP: no static neighbour
  ASSERT_TRUE(v.ok()) << v.error;
  ASSERT_TRUE(v.enter_a());
  setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
  auto p = dp::port::open({.device = "net_af_xdp1,iface=" + v.if_a + ",start_queue=0,queue_count=1,xdp_prog=" +
                                     RINGLAB_AFXDP_BPF_OBJ_IPV4});
  ASSERT_TRUE(p) << p.error().reason;
  const int s = v.socket_in_b(SOCK_DGRAM);
  const auto to = tv::ipv4(tv::veth_pair::addr_a, 5000);
  constexpr int n = 10;
  for (int i = 0; i < n; ++i) {
    const std::string pl = tv::payload_for(i);
    ASSERT_EQ(::sendto(s, pl.data(), pl.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), ssize_t(pl.size()));
  }
  std::vector<std::string> payloads;
  std::size_t non_ipv4 = 0;
  std::array<frame_ref, 32> buf;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (payloads.size() < std::size_t(n) && std::chrono::steady_clock::now() < deadline) {
    const std::size_t k = (*p)->rx_burst(buf);
    for (std::size_t i = 0; i < k; ++i) {
      const auto u = tv::parse_udp(buf[i].bytes.data(), buf[i].bytes.size());
      if (u.ethertype != 0x0800) ++non_ipv4;
      if (u.ok && u.dport == 5000) payloads.push_back(u.payload);
    }
    (*p)->rx_release(std::span(buf).first(k));
    if (!k) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_EQ(payloads.size(), std::size_t(n));   // it left ns b only because the kernel answered ARP
  for (int i = 0; i < n; ++i) EXPECT_EQ(payloads[i], tv::payload_for(i)) << "datagram " << i;
  EXPECT_EQ(non_ipv4, 0u);   // ARP (and IPv6 chatter) stayed with the kernel
  ringlab::backends::afxdp::xdp_verdicts vd;
  EXPECT_EQ((*p)->xdp_verdicts(vd), std::errc::no_such_file_or_directory) << "no config::xdp: no maps looked up";
  ::close(s);
#endif
}
