// The TCP interop cases (tcp_interop_cases.hpp) with our stack over DPDK's net_af_xdp PMD instead of
// our AF_XDP port, Linux's TCP in the peer namespace: handshake, bulk each way with digests,
// half-close each way, RST from either side, in both roles, and the Linux client's reconnect from the
// same port. net_af_xdp loads libxdp's default program, which gives the socket every frame (ARP and
// every TCP port: our ephemeral ports need no range here).
// Seeded loss: net_af_xdp loads OUR program instead (xdp_prog=xsk_redirect_ipv4.bpf.o) and the port
// writes its loss configuration into the maps it finds on the interface (dpdk::config::xdp): Linux ->
// us loses segments in that program; us -> Linux in the same program attached, loss only, to the
// peer's end (afxdp::loss_program), as the AF_XDP loss cases do. The loss rig opens its port through
// the spec an app's --device takes ("dpdk:net_af_xdp0,...,xdp_prog=OBJ,drop=0.02,seed=7,arp=us"). One EAL per process: ctest runs each
// case as its own process (registered by name in CMakeLists.txt).
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/dpdk/dpdk_port.hpp"
#include "backends/probe.hpp"
#include "stack/iface/interface.hpp"
#include "tests/netns/tcp_interop/tcp_interop_cases.hpp"
#include "tests/support/preconditions.hpp"

// DPDK 22.11's net_af_xdp leaves libxdp's umem struct and libbpf allocations behind when the ethdev
// closes (tests/netns/dpdk says the same): not ours.
extern "C" const char* __lsan_default_suppressions() { return "leak:xsk_umem__create\nleak:libbpf.so\n"; }

namespace tt = ringlab::test_tcp_interop;
namespace cases = ringlab::test_tcp_interop::cases;
namespace ti = ringlab::test_interop;
namespace stack = ringlab::stack;
namespace dp = ringlab::backends::dpdk;
namespace ax = ringlab::backends::afxdp;
using tt::role;

namespace {

class dpdk_rig {
 protected:
  // xdp: net_af_xdp loads our program (xdp_prog=) and the port configures it; unset: libxdp's default.
  void open_rig(std::optional<dp::xdp_program_config> xdp = std::nullopt) {
    // AF_XDP on veth (net_af_xdp's ground) and the EAL's needs, probed apart from DPDK and our ports.
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());
    RINGLAB_REQUIRE(ringlab::netlab::dpdk_eal_unavailable());
    net_ = std::make_unique<ti::interop_link>();   // this thread is in ns us until net_ goes
    if (!net_->peer_checksums) {
      RINGLAB_REQUIRE(ti::peer_checksums_unavailable());
    }
    ASSERT_TRUE(net_->peer_checksums) << "ethtool is installed but could not turn the peer's TX checksum offload off";
    const std::string device = "net_af_xdp0,iface=" + net_->link.a_name() + ",start_queue=0,queue_count=1";
    if (!xdp) {
      auto p = dp::port::open({.device = device});
      ASSERT_TRUE(p) << p.error().reason;
      port_ = std::move(*p);
    } else {
      // Through the port spec an app's --device takes: our program's options among the devargs.
      const std::string text = "dpdk:" + device + ",xdp_prog=" + RINGLAB_AFXDP_BPF_OBJ_IPV4 + ",drop=" + cases::share_text(xdp->drop_ppm) +
                               ",seed=" + std::to_string(xdp->drop_seed) + (xdp->arp_to_us ? ",arp=us" : ",arp=kernel");
      auto spec = ringlab::backends::parse_spec(text);
      ASSERT_TRUE(spec) << spec.error().reason;
      auto p = ringlab::backends::probe(*spec);
      ASSERT_TRUE(p) << p.error().reason;
      ASSERT_NE(dynamic_cast<dp::port*>(p->get()), nullptr) << "probe(" << text << ") gave no DPDK port";
      port_.reset(static_cast<dp::port*>(p->release()));
    }
    ifc_ = std::make_unique<stack::interface>(*port_, tt::our_config(*net_));
  }
  void close_rig() {
    peer_loss_.reset();
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
  std::unique_ptr<ax::loss_program> peer_loss_;   // the loss cases us -> Linux: our program on the peer's end
};

class tcp_dpdk : public ::testing::Test, protected dpdk_rig {
 protected:
  void SetUp() override { open_rig(); }
  void TearDown() override { close_rig(); }
};
class tcp_dpdk_role : public ::testing::TestWithParam<role>, protected dpdk_rig {
 protected:
  void SetUp() override { open_rig(); }
  void TearDown() override { close_rig(); }
};
std::string role_name(const ::testing::TestParamInfo<role>& i) { return tt::to_string(i.param); }

}  // namespace

TEST_P(tcp_dpdk_role, handshake) {
  cases::handshake(*net_, *ifc_, GetParam());
  if (HasFatalFailure()) return;
  dp::eth_stats st;
  ASSERT_FALSE(port_->stats(st));
  EXPECT_GE(st.ipackets, 2u);
  EXPECT_GE(st.opackets, 2u);
}
TEST_P(tcp_dpdk_role, bulk_us_to_linux) { cases::bulk(*net_, *ifc_, GetParam(), tt::bulk_bytes(4), true); }
TEST_P(tcp_dpdk_role, bulk_linux_to_us) { cases::bulk(*net_, *ifc_, GetParam(), tt::bulk_bytes(4), false); }
TEST_P(tcp_dpdk_role, half_close_by_linux) { cases::half_close(*net_, *ifc_, GetParam(), true); }
TEST_P(tcp_dpdk_role, half_close_by_us) { cases::half_close(*net_, *ifc_, GetParam(), false); }
TEST_P(tcp_dpdk_role, linux_rst_is_our_connection_reset) { cases::linux_resets(*net_, *ifc_, GetParam()); }
TEST_P(tcp_dpdk_role, our_abort_is_linux_econnreset) { cases::we_reset(*net_, *ifc_, GetParam()); }
INSTANTIATE_TEST_SUITE_P(both_roles, tcp_dpdk_role, ::testing::Values(role::linux_client, role::we_client), role_name);

TEST_F(tcp_dpdk, linux_reconnects_from_the_same_port_after_we_closed_first) { cases::reconnect_same_port(*net_, *ifc_, true); }
TEST_F(tcp_dpdk, linux_reconnects_from_the_same_port_after_it_closed_first) { cases::reconnect_same_port(*net_, *ifc_, false); }

// ---- seeded loss (our program loaded by net_af_xdp) ---------------------------------------------
namespace {

struct loss_case {
  std::uint32_t ppm;
  bool to_linux;   // true: segments we send are lost (the program on the peer's end); false: Linux's
  role who;
};
std::string loss_name(const ::testing::TestParamInfo<loss_case>& i) {
  return std::to_string(i.param.ppm / 10000) + "pct_" + (i.param.to_linux ? "us_to_linux_" : "linux_to_us_") +
         tt::to_string(i.param.who);
}
constexpr std::uint64_t loss_seed = 7;

class tcp_dpdk_loss : public ::testing::TestWithParam<loss_case>, protected dpdk_rig {
 protected:
  void SetUp() override {
    const auto& l = GetParam();
    // Our end's program always: ARP to our stack (our end has no kernel address, so a connection
    // that opens at all shows the configuration was written), loss only where Linux -> us is lossy.
    open_rig(dp::xdp_program_config{.arp_to_us = true, .drop_ppm = l.to_linux ? 0 : l.ppm, .drop_seed = loss_seed});
    if (IsSkipped() || HasFatalFailure() || !l.to_linux) return;
    cases::attach_peer_loss(*net_, l.ppm, loss_seed, peer_loss_);
  }
  void TearDown() override { close_rig(); }
};

}  // namespace

TEST_P(tcp_dpdk_loss, transfer_completes_exactly_and_the_drops_add_up) {
  const auto& l = GetParam();
  ax::xdp_verdicts ours;
  cases::seeded_loss(*net_, *ifc_, l.who, l.ppm, l.to_linux, tt::bulk_bytes(2), [&] {
    dp::eth_stats st;
    EXPECT_FALSE(port_->stats(st));
    EXPECT_FALSE(port_->xdp_verdicts(ours));
    if (!l.to_linux) return cases::loss_drops{ours.lost, st.imissed};   // imissed: the XSK's rx_dropped and the PMD's
    ax::xdp_verdicts peer;
    EXPECT_FALSE(peer_loss_->verdicts(peer));
    return cases::loss_drops{peer.lost, st.imissed};
  });
  if (HasFatalFailure()) return;
  // Our end's program (the one net_af_xdp loaded) sent the connection to the socket, ARP included.
  EXPECT_GT(ours.to_xsk, 0u);
  EXPECT_EQ(ours.no_xsk, 0u);
  EXPECT_EQ(ours.pass_arp, 0u) << "ARP went to the kernel: the configuration (arp_to_us) was not written";
  if (l.to_linux) {
    EXPECT_EQ(ours.lost, 0u) << "our end's program was asked for no loss";
  }
}
INSTANTIATE_TEST_SUITE_P(seeded, tcp_dpdk_loss,
                         ::testing::Values(loss_case{20000, false, role::linux_client}, loss_case{20000, false, role::we_client},
                                           loss_case{20000, true, role::linux_client}, loss_case{20000, true, role::we_client},
                                           loss_case{50000, false, role::linux_client}, loss_case{50000, false, role::we_client},
                                           loss_case{50000, true, role::linux_client}, loss_case{50000, true, role::we_client}),
                         loss_name);
