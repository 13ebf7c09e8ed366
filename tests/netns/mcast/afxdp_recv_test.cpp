// `ringlab mcast-recv --backend afxdp` on a real interface: two namespaces joined by a veth pair; the
// receiver's user-space stack takes the veth end through AF_XDP (copy mode), the sender is the kernel
// (`mcast-send` on kernel sockets) in the other namespace. Exactly the sent lines arrive, in order.
// The sender's veth has TX checksum offload off: a locally sent UDP frame otherwise crosses the veth
// with a partial checksum, which the kernel accepts (CHECKSUM_PARTIAL) but our stack rightly drops.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/netns/mcast/cli_run.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/preconditions.hpp"

using namespace std::chrono_literals;
namespace t = ringlab::test;
using ringlab::test::ringlab_binary;

namespace {

TEST(mcast_afxdp, kernel_sender_to_bypass_receiver_over_veth) {
  // AF_XDP on veth, probed apart from ringlab (tools/netns/preconditions.hpp), and the backend built:
  // past that, a receiver that falls back to kernel sockets is a failure.
  RINGLAB_REQUIRE(t::afxdp_unavailable());
  RINGLAB_REQUIRE(t::memlock_below(std::uint64_t{8} << 20));
  RINGLAB_REQUIRE(t::program_missing("ethtool", "ethtool"));
#ifndef RINGLAB_HAVE_XDP
  RINGLAB_REQUIRE(t::not_built("ringlab's AF_XDP backend", "libxdp-dev, libbpf-dev, clang"));
#endif
  t::netns tx_ns("rlxs"), rx_ns("rlxr");
  t::veth_pair link(tx_ns, "10.203.0.1/24", rx_ns, "10.203.0.2/24");
  auto off = tx_ns.exec({"ethtool", "-K", link.a_name(), "tx", "off"});
  ASSERT_EQ(off.exit_code, 0) << off.err;

  auto rx = rx_ns.spawn({ringlab_binary(), "mcast-recv", "--backend", "afxdp", "--iface", link.b_name(), "--mac",
                         "02:00:00:00:cb:02", "--addr", "10.203.0.2/24", "--group", "239.77.3.1", "--port", "47003",
                         "--count", "3", "--timeout", "20"});
  ASSERT_TRUE(t::eventually([&] { return rx.err().find("joined") != std::string::npos || !rx.running(); }, 10s))
      << rx.err();
  ASSERT_EQ(rx.err().find("falling back"), std::string::npos) << "AF_XDP did not open: " << rx.err();
  ASSERT_NE(rx.err().find("(backend afxdp)"), std::string::npos) << rx.err();

  const std::string input = "/tmp/ringlab-mcast-afxdp-" + std::to_string(::getpid()) + ".txt";
  std::ofstream(input) << "one\ntwo words\nthree\n";
  auto tx = tx_ns.exec({ringlab_binary(), "mcast-send", "--group", "239.77.3.1", "--port", "47003", "--iface",
                        link.a_name(), "--file", input});
  std::remove(input.c_str());
  EXPECT_EQ(tx.exit_code, 0) << tx.err;
  const auto code = rx.wait_for(15s);
  ASSERT_TRUE(code.has_value()) << rx.err();
  EXPECT_EQ(*code, 0) << rx.err();
  std::vector<std::string> got;
  std::istringstream is(rx.out());
  for (std::string l; std::getline(is, l);) got.push_back(l.substr(l.find(' ')));   // the source port varies
  EXPECT_EQ(got, (std::vector<std::string>{" > 239.77.3.1:47003 seq=0 one", " > 239.77.3.1:47003 seq=1 two words",
                                           " > 239.77.3.1:47003 seq=2 three"}));
  EXPECT_EQ(rx.out().rfind("10.203.0.1:", 0), 0u) << rx.out();
  EXPECT_NE(rx.err().find("3 received (3 unique), 0 lost"), std::string::npos) << rx.err();
  EXPECT_NE(rx.err().find("stack drops: none"), std::string::npos) << rx.err();
}

}  // namespace
