// Our TCP (stack::tcp_socket / tcp_listener over our AF_XDP port) against Linux's TCP in the peer
// namespace (issue 13 point 4). tcp_interop_cases.hpp holds the cases both ports run; this file adds
// what only our own XDP program can do:
//   knobs     Linux's tcp_timestamps, tcp_sack, tcp_window_scaling each on and off, congestion control
//             cubic and bbr: a transfer each way with digests, and OUR connection's negotiated options
//             (tcp_info) equal to what Linux offered (and to what Linux's TCP_INFO says it agreed)
//   loss      seeded loss on the real path: our XDP program on our end drops drop_ppm of the segments
//             Linux sends us (spec "drop=0.02,seed=7"); the same program, loss only, on the PEER's end
//             drops segments we send. Byte-exact delivery, retransmissions on the sending side, and
//             the drops the program counted equal to the segments that went missing.
// Port spec: "afxdp:va..:tcp=5001,tcp=40000-40999,arp=us[,drop=..,seed=..]" (the range: our connect()s'
// ephemeral ports, the return traffic of an active open). Not root, no XDP: skipped with the reason.
#include <gtest/gtest.h>

#include <memory>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/probe.hpp"
#include "stack/iface/interface.hpp"
#include "tests/netns/tcp_interop/tcp_interop_cases.hpp"
#include "tests/support/preconditions.hpp"

namespace tt = ringlab::test_tcp_interop;
namespace cases = ringlab::test_tcp_interop::cases;
namespace ti = ringlab::test_interop;
namespace stack = ringlab::stack;
namespace ax = ringlab::backends::afxdp;
using tt::role;

namespace {

class tcp_afxdp_base {
 protected:
  // Probes the machine (skips), makes the link, opens the port with `extra` spec options.
  void open_rig(const std::string& extra) {
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());
    RINGLAB_REQUIRE(ringlab::netlab::memlock_below(std::uint64_t{8} << 20));
    net_ = std::make_unique<ti::interop_link>();   // this thread is in ns us until net_ goes
    // Linux's TCP over a veth hands segments over with partial checksums unless ethtool turns that
    // off (interop_link did, where ethtool is): our stack would drop every one as a bad checksum.
    if (!net_->peer_checksums) {
      RINGLAB_REQUIRE(ti::peer_checksums_unavailable());
    }
    ASSERT_TRUE(net_->peer_checksums) << "ethtool is installed but could not turn the peer's TX checksum offload off";
    const std::string text = "afxdp:" + net_->link.a_name() + ":" + tt::spec_ports() + ",arp=us" + extra;
    auto spec = ringlab::backends::parse_spec(text);
    ASSERT_TRUE(spec) << spec.error().reason;
    auto p = ringlab::backends::probe(*spec);
    ASSERT_TRUE(p) << p.error().reason;
    port_ = std::move(*p);
    xsk_ = dynamic_cast<ax::port*>(port_.get());
    ASSERT_NE(xsk_, nullptr) << "probe(" << text << ") gave no AF_XDP port";
    ifc_ = std::make_unique<stack::interface>(*port_, tt::our_config(*net_));
  }

  void close_rig() {
    if (ifc_) {
      // Every frame the stack was lent went back (the port still posts its fill frames).
      EXPECT_EQ(port_->pool().out(), xsk_->kernel_held()) << "frames held outside the port after the test";
    }
    peer_loss_.reset();
    ifc_.reset();
    port_.reset();
    net_.reset();
  }

  std::unique_ptr<ti::interop_link> net_;
  std::unique_ptr<ringlab::port::any_port> port_;
  ax::port* xsk_ = nullptr;
  std::unique_ptr<stack::interface> ifc_;
  std::unique_ptr<ax::loss_program> peer_loss_;
};

class tcp_afxdp : public ::testing::Test, protected tcp_afxdp_base {
 protected:
  void SetUp() override { open_rig(""); }
  void TearDown() override { close_rig(); }
};

class tcp_afxdp_role : public ::testing::TestWithParam<role>, protected tcp_afxdp_base {
 protected:
  void SetUp() override { open_rig(""); }
  void TearDown() override { close_rig(); }
};

std::string role_name(const ::testing::TestParamInfo<role>& i) { return tt::to_string(i.param); }

}  // namespace

TEST_P(tcp_afxdp_role, handshake) {
  cases::handshake(*net_, *ifc_, GetParam());
  if (HasFatalFailure()) return;
  // The program sent the handshake to the socket: nothing of it to the kernel of our end.
  ax::xdp_verdicts v;
  ASSERT_FALSE(xsk_->verdicts(v));
  EXPECT_GE(v.to_xsk, 2u);   // SYN or SYN-ACK, and an ACK (ARP adds more)
  EXPECT_EQ(v.no_xsk, 0u);
  EXPECT_EQ(v.lost, 0u);
}
TEST_P(tcp_afxdp_role, bulk_us_to_linux) { cases::bulk(*net_, *ifc_, GetParam(), tt::bulk_bytes(4), true); }
TEST_P(tcp_afxdp_role, bulk_linux_to_us) { cases::bulk(*net_, *ifc_, GetParam(), tt::bulk_bytes(4), false); }
TEST_P(tcp_afxdp_role, half_close_by_linux) { cases::half_close(*net_, *ifc_, GetParam(), true); }
TEST_P(tcp_afxdp_role, half_close_by_us) { cases::half_close(*net_, *ifc_, GetParam(), false); }
TEST_P(tcp_afxdp_role, linux_rst_is_our_connection_reset) { cases::linux_resets(*net_, *ifc_, GetParam()); }
TEST_P(tcp_afxdp_role, our_abort_is_linux_econnreset) { cases::we_reset(*net_, *ifc_, GetParam()); }
INSTANTIATE_TEST_SUITE_P(both_roles, tcp_afxdp_role, ::testing::Values(role::linux_client, role::we_client), role_name);

TEST_F(tcp_afxdp, linux_reconnects_from_the_same_port_after_we_closed_first) {
  cases::reconnect_same_port(*net_, *ifc_, true);
}
TEST_F(tcp_afxdp, linux_reconnects_from_the_same_port_after_it_closed_first) {
  cases::reconnect_same_port(*net_, *ifc_, false);
}

// ---- Linux's knobs ------------------------------------------------------------------------------
namespace {

struct knobs {
  bool ts, sack, ws;
  const char* cc;
  role who;   // alternates over the grid, so each knob is seen from both roles
};
std::string knobs_name(const ::testing::TestParamInfo<knobs>& i) {
  const auto& k = i.param;
  return std::string("ts") + (k.ts ? "1" : "0") + "_sack" + (k.sack ? "1" : "0") + "_ws" + (k.ws ? "1" : "0") + "_" + k.cc +
         "_" + tt::to_string(k.who);
}
// Each knob off alone (ts, sack, ws), all on and all off, spread over both congestion controls and
// both roles: every knob is seen on and off, every control with knobs on and off (6 cases; the full
// 2^3 x 2 grid adds only combinations of negotiations that do not interact in our code).
std::vector<knobs> knob_grid() {
  std::vector<knobs> v;
  const struct {
    int m;   // bits: ts 4, sack 2, ws 1
    const char* cc;
  } grid[] = {{7, "cubic"}, {3, "bbr"}, {5, "cubic"}, {6, "bbr"}, {0, "cubic"}, {7, "bbr"}};
  for (const auto& g : grid)
    v.push_back({bool(g.m & 4), bool(g.m & 2), bool(g.m & 1), g.cc, (v.size() % 2) ? role::we_client : role::linux_client});
  return v;
}

class tcp_afxdp_knobs : public ::testing::TestWithParam<knobs>, protected tcp_afxdp_base {
 protected:
  void SetUp() override { open_rig(""); }
  void TearDown() override { close_rig(); }
};

}  // namespace

TEST_P(tcp_afxdp_knobs, transfer_and_our_options_follow_linux) {
  const knobs k = GetParam();
  RINGLAB_REQUIRE(tt::congestion_unavailable(k.cc));
  tt::peer_sysctl(net_->peer, "net.ipv4.tcp_timestamps", k.ts ? "1" : "0");
  tt::peer_sysctl(net_->peer, "net.ipv4.tcp_sack", k.sack ? "1" : "0");
  tt::peer_sysctl(net_->peer, "net.ipv4.tcp_window_scaling", k.ws ? "1" : "0");
  auto c = tt::open(k.who, *net_, *ifc_, {.congestion = k.cc});
  ASSERT_EQ(c.error, "");
  EXPECT_EQ(c.theirs->congestion(), k.cc);

  // We offer all three: each is on exactly when Linux offered (or answered with) it too.
  const auto ours = c.ours->info();
  const auto theirs = c.theirs->info();
  EXPECT_EQ(ours.timestamps, k.ts);
  EXPECT_EQ(ours.sack, k.sack);
  EXPECT_EQ(ours.timestamps, (theirs.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0);
  EXPECT_EQ(ours.sack, (theirs.tcpi_options & TCPI_OPT_SACK) != 0);
  EXPECT_EQ((theirs.tcpi_options & TCPI_OPT_WSCALE) != 0, k.ws);
  if (k.ws) {
    // The shifts cross over: what Linux receives with is what we send with, and back.
    EXPECT_EQ(ours.snd_wscale, theirs.tcpi_rcv_wscale);
    EXPECT_EQ(ours.rcv_wscale, theirs.tcpi_snd_wscale);
    EXPECT_GT(ours.rcv_wscale, 0) << "our 256 KiB receive buffer needs a shift";
  } else {
    EXPECT_EQ(ours.snd_wscale, 0);
    EXPECT_EQ(ours.rcv_wscale, 0);
  }

  tt::flow up(tt::bulk_bytes(1), 61), down(tt::bulk_bytes(1), 62);
  std::string err;
  ASSERT_TRUE(tt::exchange(*ifc_, c, up, down, {.timeout = tt::transfer_timeout(2 * up.total)}, err)) << err;
  cases::expect_delivered(up, "us -> Linux");
  cases::expect_delivered(down, "Linux -> us");
}
INSTANTIATE_TEST_SUITE_P(linux, tcp_afxdp_knobs, ::testing::ValuesIn(knob_grid()), knobs_name);

// ---- seeded loss ---------------------------------------------------------------------------------
namespace {

struct loss_case {
  std::uint32_t ppm;
  bool to_linux;   // true: segments we send are lost (the program on the peer's end); false: Linux's
};
std::string loss_name(const ::testing::TestParamInfo<loss_case>& i) {
  return std::to_string(i.param.ppm / 10000) + "pct_" + (i.param.to_linux ? "us_to_linux" : "linux_to_us");
}
constexpr std::uint64_t loss_seed = 7;

class tcp_afxdp_loss : public ::testing::TestWithParam<loss_case>, protected tcp_afxdp_base {
 protected:
  void SetUp() override {
    const auto& l = GetParam();
    if (!l.to_linux) {
      open_rig(",drop=" + cases::share_text(l.ppm) + ",seed=" + std::to_string(loss_seed));
      return;
    }
    open_rig("");
    if (IsSkipped() || HasFatalFailure()) return;
    cases::attach_peer_loss(*net_, l.ppm, loss_seed, peer_loss_);
  }
  void TearDown() override { close_rig(); }
};

}  // namespace

TEST_P(tcp_afxdp_loss, transfer_completes_exactly_and_the_drops_add_up) {
  const auto& l = GetParam();
  cases::seeded_loss(*net_, *ifc_, role::linux_client, l.ppm, l.to_linux, tt::bulk_bytes(2), [&] {
    ax::xdp_verdicts v;
    ax::xdp_stats xs;
    EXPECT_FALSE(xsk_->statistics(xs));
    EXPECT_FALSE(l.to_linux ? peer_loss_->verdicts(v) : xsk_->verdicts(v));
    return cases::loss_drops{v.lost, xs.rx_dropped};
  });
}
INSTANTIATE_TEST_SUITE_P(seeded, tcp_afxdp_loss,
                         ::testing::Values(loss_case{20000, false}, loss_case{50000, false}, loss_case{20000, true},
                                           loss_case{50000, true}),
                         loss_name);
