// `ringlab mcast-recv --backend dpdk --vdev net_af_xdp0,iface=IF` on a veth end in a namespace the
// test makes: the PMD turns the interface promiscuous, and the run leaves it as it found it; a user
// without privileges reads ONE line naming privileges (not the PMD's retries blaming another socket),
// and the run goes on over kernel sockets.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/netns/mcast/cli_run.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/preconditions.hpp"

using namespace std::chrono_literals;
namespace t = ringlab::test;
using ringlab::test::lines_of;
using ringlab::test::ringlab_binary;

namespace {

constexpr unsigned iff_promisc = 0x100;

// The kernel's view of the interface: IFF_PROMISC in /sys/class/net/IF/flags, and `ip -d link`'s
// promiscuity counter.
struct promisc_state {
  bool flag = false;
  int count = -1;
};
promisc_state promisc_of(const t::netns& ns, const std::string& ifname) {
  promisc_state s;
  auto f = ns.exec({"cat", "/sys/class/net/" + ifname + "/flags"});
  EXPECT_EQ(f.exit_code, 0) << f.err;
  s.flag = (std::strtoul(f.out.c_str(), nullptr, 16) & iff_promisc) != 0;
  auto l = ns.exec({"ip", "-d", "link", "show", ifname});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  if (const auto p = l.out.find("promiscuity "); p != std::string::npos) s.count = std::atoi(l.out.c_str() + p + 12);
  return s;
}

// Runs mcast-recv over net_af_xdp on `ifname` for a few seconds; returns the promiscuous state seen
// while it ran (the PMD's doing) and its exit code and stderr.
struct run_result {
  promisc_state during;
  int exit_code = -1;
  std::string err;
};
run_result run_af_xdp(const t::netns& ns, const std::string& ifname) {
  auto p = ns.spawn({ringlab_binary(), "mcast-recv", "--backend", "dpdk", "--vdev", "net_af_xdp0,iface=" + ifname,
                     "--group", "239.77.9.1", "--timeout", "3"});
  run_result r;
  EXPECT_TRUE(t::eventually([&] { return p.err().find("joined") != std::string::npos || !p.running(); }, 15s))
      << p.err();
  r.during = promisc_of(ns, ifname);
  const auto code = p.wait_for(20s);
  EXPECT_TRUE(code.has_value()) << p.err();
  r.exit_code = code.value_or(-1);
  r.err = p.err();
  return r;
}

TEST(mcast_dpdk_af_xdp, the_interface_is_not_left_promiscuous) {
  RINGLAB_REQUIRE(ringlab::netlab::netns_unavailable());
  t::netns a("rlpa"), b("rlpb");
  t::veth_pair link(a, "10.204.0.1/24", b, "10.204.0.2/24");
  const auto before = promisc_of(b, link.b_name());
  ASSERT_FALSE(before.flag);
  ASSERT_EQ(before.count, 0);
  const auto r = run_af_xdp(b, link.b_name());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NE(r.err.find("(backend dpdk)"), std::string::npos) << r.err;   // no fallback: root runs net_af_xdp
  EXPECT_TRUE(r.during.flag) << "the PMD was expected to turn promiscuous mode on while running";
  const auto after = promisc_of(b, link.b_name());
  EXPECT_FALSE(after.flag);
  EXPECT_EQ(after.count, 0);
}

TEST(mcast_dpdk_af_xdp, an_interface_promiscuous_before_stays_promiscuous) {
  RINGLAB_REQUIRE(ringlab::netlab::netns_unavailable());
  t::netns a("rlpa"), b("rlpb");
  t::veth_pair link(a, "10.204.1.1/24", b, "10.204.1.2/24");
  auto on = b.exec({"ip", "link", "set", link.b_name(), "promisc", "on"});
  ASSERT_EQ(on.exit_code, 0) << on.err;
  const auto r = run_af_xdp(b, link.b_name());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NE(r.err.find("(backend dpdk)"), std::string::npos) << r.err;
  const auto after = promisc_of(b, link.b_name());
  EXPECT_TRUE(after.flag);
  EXPECT_EQ(after.count, 1);
}

TEST(mcast_dpdk_af_xdp, without_privileges_one_line_names_them_and_the_run_goes_on_over_kernel) {
  RINGLAB_REQUIRE(ringlab::netlab::netns_unavailable());
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("setpriv", "util-linux"));
  if (t::run({"id", "-u", "nobody"}).exit_code != 0) GTEST_SKIP() << "no user 'nobody' here";
  t::netns a("rlpa"), b("rlpb");
  t::veth_pair link(a, "10.204.2.1/24", b, "10.204.2.2/24");
  auto r = b.exec({"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", ringlab_binary(), "mcast-recv",
                   "--backend", "dpdk", "--vdev", "net_af_xdp0,iface=" + link.b_name(), "--group", "239.77.9.2",
                   "--iface", link.b_name(), "--timeout", "0.3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto e = lines_of(r.err);
  ASSERT_EQ(e.size(), 3u) << r.err;   // the reason, the kernel join, the summary: nothing from DPDK itself
  EXPECT_EQ(e[0], "mcast-recv: backend 'dpdk' cannot start (dpdk: net_af_xdp0: no privileges for AF_XDP sockets "
                  "(socket(AF_XDP): Operation not permitted): run as root or with CAP_NET_RAW, CAP_NET_ADMIN and "
                  "CAP_BPF): falling back to 'kernel'");
  EXPECT_EQ(e[1], "mcast-recv: joined 239.77.9.2 on " + link.b_name() + ", port 5000 (io epoll, backend kernel)");
  EXPECT_TRUE(e[2].ends_with("; ended by timeout")) << e[2];
  EXPECT_FALSE(promisc_of(b, link.b_name()).flag);
}

}  // namespace
