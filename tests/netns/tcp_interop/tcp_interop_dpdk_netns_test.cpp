// The TCP interop cases (tcp_interop_cases.hpp) with our stack over DPDK's net_af_xdp PMD instead of
// our AF_XDP port, Linux's TCP in the peer namespace: handshake, bulk each way with digests,
// half-close each way, RST from either side, in both roles, and the Linux client's reconnect from the
// same port. net_af_xdp loads libxdp's default program, which gives the socket every frame (ARP and
// every TCP port: our ephemeral ports need no range here). Seeded loss needs our own program's maps,
// which net_af_xdp cannot write: the loss cases are AF_XDP's only (README.md). One EAL per process:
// ctest runs each case as its own process (gtest_discover_tests).
#include <gtest/gtest.h>

#include <memory>

#include "backends/dpdk/dpdk_port.hpp"
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
using tt::role;

namespace {

class dpdk_rig {
 protected:
  void open_rig() {
    // AF_XDP on veth (net_af_xdp's ground) and the EAL's needs, probed apart from DPDK and our ports.
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());
    RINGLAB_REQUIRE(ringlab::netlab::dpdk_eal_unavailable());
    net_ = std::make_unique<ti::interop_link>();   // this thread is in ns us until net_ goes
    if (!net_->peer_checksums) {
      RINGLAB_REQUIRE(ti::peer_checksums_unavailable());
    }
    ASSERT_TRUE(net_->peer_checksums) << "ethtool is installed but could not turn the peer's TX checksum offload off";
    auto p = dp::port::open({.device = "net_af_xdp0,iface=" + net_->link.a_name() + ",start_queue=0,queue_count=1"});
    ASSERT_TRUE(p) << p.error().reason;
    port_ = std::move(*p);
    ifc_ = std::make_unique<stack::interface>(*port_, tt::our_config(*net_));
  }
  void close_rig() {
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
