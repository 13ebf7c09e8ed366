// The interop cases (interop_cases.hpp) again, with the stack over DPDK's net_af_xdp PMD (backends/dpdk)
// instead of our AF_XDP port, the Linux kernel as the peer:
//   ARP both ways      the kernel resolves us (ping; arping asks twice); we resolve the kernel before
//                      our first unicast to a kernel socket leaves
//   multicast both     a kernel sender to our joined socket, and our sender to a kernel receiver joined
//   ways               in the peer: exact payloads, in order
// net_af_xdp loads libxdp's default program, which gives the socket everything (ARP too), so our stack
// owns 10.77.0.1 as with arp=us. One EAL per process: ctest runs each case as its own process.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/dpdk/dpdk_port.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/netns/interop/interop_cases.hpp"
#include "tests/netns/interop/interop_link.hpp"
#include "tests/support/preconditions.hpp"

// DPDK 22.11's net_af_xdp leaves libxdp's umem struct and libbpf allocations behind when the ethdev
// closes (tests/netns/dpdk says the same): not ours, and only this binary opens net_af_xdp.
extern "C" const char* __lsan_default_suppressions() { return "leak:xsk_umem__create\nleak:libbpf.so\n"; }

namespace ti = ringlab::test_interop;
namespace cases = ringlab::test_interop::cases;
namespace stack = ringlab::stack;
namespace wire = ringlab::wire;
namespace dp = ringlab::backends::dpdk;

namespace {

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

  std::unique_ptr<ti::interop_link> net_;
  std::unique_ptr<dp::port> port_;
  std::unique_ptr<stack::interface> ifc_;
};

}  // namespace

// What only the PMD can tell follows a case: the ethdev's own counters.
TEST_F(interop_dpdk, kernel_multicast_sender_reaches_our_receiver_over_net_af_xdp_exactly) {
  cases::kernel_multicast_reaches_us(*net_, *ifc_, RINGLAB_INTEROP_MCAST_PEER);
  if (IsSkipped() || HasFatalFailure()) return;
  dp::eth_stats st;
  ASSERT_FALSE(port_->stats(st));
  EXPECT_GE(st.ipackets, std::uint64_t(5 + cases::datagrams));
  EXPECT_EQ(st.imissed, 0u);
}

TEST_F(interop_dpdk, our_multicast_sender_reaches_a_kernel_receiver_over_net_af_xdp_exactly) {
  cases::our_multicast_reaches_a_kernel_receiver(*net_, *ifc_, RINGLAB_INTEROP_MCAST_PEER);
  if (IsSkipped() || HasFatalFailure()) return;
  dp::eth_stats st;
  ASSERT_FALSE(port_->stats(st));
  EXPECT_GE(st.opackets, std::uint64_t(cases::datagrams));
}

TEST_F(interop_dpdk, kernel_ping_resolves_us_by_arp_and_gets_our_echo_replies_over_net_af_xdp) {
  cases::kernel_ping_resolves_us(*net_, *ifc_);
}

TEST_F(interop_dpdk, peer_arping_gets_our_arp_replies_over_net_af_xdp) {
  cases::peer_arping_gets_our_replies(*net_, *ifc_);
}

TEST_F(interop_dpdk, we_resolve_the_kernel_by_arp_and_our_unicast_reaches_a_kernel_socket_over_net_af_xdp) {
  cases::we_resolve_the_kernel_and_our_unicast_reaches_a_kernel_socket(*net_, *ifc_);
}
