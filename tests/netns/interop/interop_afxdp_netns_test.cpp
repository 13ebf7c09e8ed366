// The lab's user-space stack (stack::interface + stack::udp_socket) over a real AF_XDP port, with the
// Linux kernel as the peer in another namespace (interop_link.hpp). The kernel side is real programs:
// ping, arping, ip neigh, kernel UDP sockets and mcast_peer (a small kernel-socket sender/receiver).
//
//   ARP both ways      the kernel resolves us (our ARP reply, in its neighbour table); we resolve it
//                      (our request, its reply, in our ARP cache) before our first unicast leaves
//   ping               3 kernel echo requests, 3 echo replies from our ICMP, counted on both sides
//   kernel -> us       a kernel multicast sender to our joined socket: exact payloads, in order
//   us -> kernel       our sender to a kernel receiver joined in the peer (/proc/net/igmp): exact payloads
//
// The port is opened from a probe spec ("afxdp:IF:udp=...,icmp,arp=us"): ARP and ICMP come to our
// stack, the kernel on our end has no address. Not root, or XDP cannot attach: skipped with the reason.
#include <gtest/gtest.h>

#include <memory>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/probe.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/netns/interop/interop_cases.hpp"
#include "tests/netns/interop/interop_link.hpp"
#include "tests/support/preconditions.hpp"

namespace ti = ringlab::test_interop;
namespace cases = ringlab::test_interop::cases;
namespace stack = ringlab::stack;

namespace {

class interop_afxdp : public ::testing::Test {
 protected:
  void SetUp() override {
    // AF_XDP on veth and room for the 8 MiB UMEM, probed apart from our port: past this, a port that
    // does not open is our failure (tests/README.md).
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());
    RINGLAB_REQUIRE(ringlab::netlab::memlock_below(std::uint64_t{8} << 20));
    net_ = std::make_unique<ti::interop_link>();   // this thread is in ns us until net_ goes
    const std::string text = "afxdp:" + net_->link.a_name() + ":udp=" + std::to_string(cases::mcast_in_port) + ",icmp,arp=us";
    auto spec = ringlab::backends::parse_spec(text);
    ASSERT_TRUE(spec) << spec.error().reason;
    auto p = ringlab::backends::probe(*spec);
    ASSERT_TRUE(p) << p.error().reason;
    port_ = std::move(*p);
    xsk_ = dynamic_cast<ringlab::backends::afxdp::port*>(port_.get());
    ASSERT_NE(xsk_, nullptr) << "probe(" << text << ") gave no AF_XDP port";
    ifc_ = std::make_unique<stack::interface>(
        *port_, stack::interface_config{.mac = net_->our_mac, .addr = ti::our_addr, .prefix_len = 24});
  }

  void TearDown() override {
    if (ifc_) {
      // Nothing leaked: every frame the stack was lent went back (the port still posts its fill frames).
      EXPECT_EQ(port_->pool().out(), xsk_->kernel_held()) << "frames held outside the port after the test";
    }
    ifc_.reset();
    port_.reset();
    net_.reset();
  }

  std::string peer_mcast_tool() const { return RINGLAB_INTEROP_MCAST_PEER; }

  std::unique_ptr<ti::interop_link> net_;
  std::unique_ptr<ringlab::port::any_port> port_;
  ringlab::backends::afxdp::port* xsk_ = nullptr;
  std::unique_ptr<stack::interface> ifc_;
};

}  // namespace

// The cases are interop_cases.hpp's (the same over DPDK net_af_xdp); what only our AF_XDP port can
// say follows each: which frames our XDP program sent to the socket and which to the kernel.
TEST_F(interop_afxdp, kernel_ping_resolves_us_by_arp_and_gets_our_echo_replies) {
  cases::kernel_ping_resolves_us(*net_, *ifc_);
  if (IsSkipped() || HasFatalFailure()) return;
  // Our program sent ARP and ICMP to the socket, nothing of them to the kernel.
  ringlab::backends::afxdp::xdp_verdicts v;
  ASSERT_FALSE(xsk_->verdicts(v));
  EXPECT_EQ(v.pass_arp, 0u);
  EXPECT_GE(v.to_xsk, 4u);   // 1 ARP request + 3 echo requests
}

TEST_F(interop_afxdp, peer_arping_gets_our_arp_replies) { cases::peer_arping_gets_our_replies(*net_, *ifc_); }

TEST_F(interop_afxdp, we_resolve_the_kernel_by_arp_and_our_unicast_reaches_a_kernel_socket) {
  cases::we_resolve_the_kernel_and_our_unicast_reaches_a_kernel_socket(*net_, *ifc_);
}

TEST_F(interop_afxdp, kernel_multicast_sender_reaches_our_bypass_receiver_exactly) {
  cases::kernel_multicast_reaches_us(*net_, *ifc_, peer_mcast_tool());
}

TEST_F(interop_afxdp, our_multicast_sender_reaches_a_kernel_receiver_exactly) {
  cases::our_multicast_reaches_a_kernel_receiver(*net_, *ifc_, peer_mcast_tool());
}
