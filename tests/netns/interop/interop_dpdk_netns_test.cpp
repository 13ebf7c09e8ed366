// The interop receiver test again, with the stack over DPDK's net_af_xdp PMD (backends/dpdk) instead of
// our AF_XDP port: a kernel multicast sender in the peer namespace to our joined socket, exact payloads
// in order; and the kernel's ping answered by our ICMP through the same PMD. net_af_xdp loads libxdp's
// default program, which gives the socket everything (ARP too), so our stack owns 10.77.0.1 as with
// arp=us. One EAL per process: ctest runs each case as its own process.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/dpdk/dpdk_port.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/netns/interop/interop_link.hpp"
#include "tests/netns/interop/interop_payloads.hpp"
#include "tests/netns/interop/stack_pump.hpp"
#include "tests/support/preconditions.hpp"

// DPDK 22.11's net_af_xdp leaves libxdp's umem struct and libbpf allocations behind when the ethdev
// closes (tests/netns/dpdk says the same): not ours, and only this binary opens net_af_xdp.
extern "C" const char* __lsan_default_suppressions() { return "leak:xsk_umem__create\nleak:libbpf.so\n"; }

using namespace std::chrono_literals;
namespace ti = ringlab::test_interop;
namespace stack = ringlab::stack;
namespace wire = ringlab::wire;
namespace dp = ringlab::backends::dpdk;

namespace {

constexpr std::uint16_t mcast_in_port = 5001;
constexpr wire::ipv4_addr group_in{239, 77, 0, 1};
constexpr int datagrams = 32;

class interop_dpdk : public ::testing::Test {
 protected:
  void SetUp() override {
    // AF_XDP on veth (net_af_xdp's ground) and the EAL's needs, probed apart from DPDK and our ports.
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());
    RINGLAB_REQUIRE(ringlab::netlab::dpdk_eal_unavailable());
    net_ = std::make_unique<ti::interop_link>();   // this thread is in ns us until net_ goes
    auto p = dp::port::open({.device = "net_af_xdp0,iface=" + net_->link.a_name() + ",start_queue=0,queue_count=1"});
    ASSERT_TRUE(p) << p.error().reason;
    port_ = std::move(*p);
    ifc_ = std::make_unique<stack::interface>(
        *port_, stack::interface_config{.mac = net_->our_mac, .addr = ti::our_addr, .prefix_len = 24});
  }

  void TearDown() override {
    if (ifc_) {
      EXPECT_EQ(port_->pool().out(), 0u) << "frames still out of the pool after the test";
    }
    ifc_.reset();
    port_.reset();
    net_.reset();
  }

  template <class Pred>
  bool pump(Pred pred, std::chrono::milliseconds timeout) {
    return ti::pump(*ifc_, pred, timeout);
  }

  std::unique_ptr<ti::interop_link> net_;
  std::unique_ptr<dp::port> port_;
  std::unique_ptr<stack::interface> ifc_;
};

}  // namespace

TEST_F(interop_dpdk, kernel_multicast_sender_reaches_our_receiver_over_net_af_xdp_exactly) {
  RINGLAB_REQUIRE(ti::peer_checksums_unavailable());
  ASSERT_TRUE(net_->peer_checksums) << "ethtool is there, but turning the peer's TX checksum offload off failed";
  stack::udp_socket s(*ifc_, 64);
  ASSERT_FALSE(s.bind({wire::ipv4_addr::any(), mcast_in_port}));
  ASSERT_FALSE(s.join_group(group_in, ti::monotonic_ns()));
  auto tx = net_->peer.spawn({RINGLAB_INTEROP_MCAST_PEER, "send", "239.77.0.1", std::to_string(mcast_in_port), ti::peer_ip,
                              std::to_string(datagrams), "1000"});
  std::vector<ti::datagram_seen> got;
  const bool all = pump(
      [&] {
        ti::drain(s, got);
        return got.size() >= std::size_t(datagrams);
      },
      10s);
  ASSERT_EQ(tx.wait_for(5s), 0) << tx.err();
  ASSERT_TRUE(all) << "received " << got.size() << " of " << datagrams << " (udp_received "
                   << ifc_->counters().udp_received << ", drops " << ifc_->counters().dropped_total() << ")";
  pump([] { return false; }, 100ms);   // anything extra would show now
  ti::drain(s, got);
  ASSERT_EQ(got.size(), std::size_t(datagrams));
  for (int i = 0; i < datagrams; ++i) {
    EXPECT_EQ(got[i].payload, ti::payload(i)) << "datagram " << i;
    EXPECT_EQ(got[i].source.addr, ti::peer_addr);
    EXPECT_EQ(got[i].destination, group_in);
  }
  EXPECT_EQ(s.counters().received, std::uint64_t(datagrams));
  EXPECT_EQ(s.counters().queue_full, 0u);
  EXPECT_GE(ifc_->counters().igmp_reports_sent, 1u);
  dp::eth_stats st;
  ASSERT_FALSE(port_->stats(st));
  EXPECT_GE(st.ipackets, std::uint64_t(datagrams));
  EXPECT_EQ(st.imissed, 0u);
}

TEST_F(interop_dpdk, kernel_ping_gets_our_echo_replies_over_net_af_xdp) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("ping", "iputils-ping"));
  auto ping = net_->peer.spawn({"ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", ti::our_ip});
  std::optional<int> code;
  pump([&] { return (code = ping.wait_for(0ms)).has_value(); }, 15s);
  ASSERT_TRUE(code.has_value()) << "ping did not end";
  EXPECT_EQ(*code, 0) << ping.out() << ping.err();
  EXPECT_NE(ping.out().find("3 packets transmitted, 3 received, 0% packet loss"), std::string::npos) << ping.out();
  EXPECT_EQ(ifc_->counters().icmp_echo_answered, 3u);
  EXPECT_EQ(ifc_->counters().arp_requests_answered, 1u);
  const std::string neigh = net_->peer_neigh();
  EXPECT_NE(neigh.find("lladdr " + net_->our_mac.to_string()), std::string::npos) << neigh;
}
