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

// AF_XDP on veth, probed apart from ringlab (tools/netns/preconditions.hpp), and the backend built:
// past that, a receiver that falls back to kernel sockets is a failure.
#define REQUIRE_AFXDP()                                          \
  RINGLAB_REQUIRE(t::afxdp_unavailable());                       \
  RINGLAB_REQUIRE(t::memlock_below(std::uint64_t{8} << 20));     \
  RINGLAB_REQUIRE(t::program_missing("ethtool", "ethtool"));     \
  RINGLAB_REQUIRE(AFXDP_NOT_BUILT())

struct received {
  std::string out, err;
};

// mcast-recv --backend afxdp (plus `extra`) on the veth end in one namespace, the kernel's mcast-send
// sending "one", "two words", "three" from the other (10.20N.0.1 -> 10.20N.0.2, N = net). The receiver
// exited 0 when r is filled.
void receive_three_lines(int net, const std::string& group, const std::string& port,
                         const std::vector<std::string>& extra, received& r) {
  const std::string n = std::to_string(net), prefix = "10.20" + n + ".0.";
  t::netns tx_ns("rlxs" + n), rx_ns("rlxr" + n);
  t::veth_pair link(tx_ns, prefix + "1/24", rx_ns, prefix + "2/24");
  auto off = tx_ns.exec({"ethtool", "-K", link.a_name(), "tx", "off"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  std::vector<std::string> argv{ringlab_binary(), "mcast-recv", "--backend", "afxdp", "--iface", link.b_name(), "--mac",
                                "02:00:00:00:cb:0" + n, "--addr", prefix + "2/24", "--group", group, "--port", port,
                                "--count", "3", "--timeout", "20"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto rx = rx_ns.spawn(argv);
  ASSERT_TRUE(t::eventually([&] { return rx.err().find("joined") != std::string::npos || !rx.running(); }, 10s))
      << rx.err();
  ASSERT_EQ(rx.err().find("falling back"), std::string::npos) << "AF_XDP did not open: " << rx.err();
  ASSERT_NE(rx.err().find("(backend afxdp)"), std::string::npos) << rx.err();

  const std::string input = "/tmp/ringlab-mcast-afxdp-" + std::to_string(::getpid()) + "-" + n + ".txt";
  std::ofstream(input) << "one\ntwo words\nthree\n";
  auto tx = tx_ns.exec({ringlab_binary(), "mcast-send", "--group", group, "--port", port, "--iface", link.a_name(),
                        "--file", input});
  std::remove(input.c_str());
  EXPECT_EQ(tx.exit_code, 0) << tx.err;
  const auto code = rx.wait_for(15s);
  ASSERT_TRUE(code.has_value()) << rx.err();
  ASSERT_EQ(*code, 0) << rx.err();
  r.out = rx.out();
  r.err = rx.err();
}

TEST(mcast_afxdp, kernel_sender_to_bypass_receiver_over_veth) {
  REQUIRE_AFXDP();
  received rx;
  ASSERT_NO_FATAL_FAILURE(receive_three_lines(3, "239.77.3.1", "47003", {}, rx));
  std::vector<std::string> got;
  std::istringstream is(rx.out);
  for (std::string l; std::getline(is, l);) got.push_back(l.substr(l.find(' ')));   // the source port varies
  EXPECT_EQ(got, (std::vector<std::string>{" > 239.77.3.1:47003 seq=0 one", " > 239.77.3.1:47003 seq=1 two words",
                                           " > 239.77.3.1:47003 seq=2 three"}));
  EXPECT_EQ(rx.out.rfind("10.203.0.1:", 0), 0u) << rx.out;
  EXPECT_NE(rx.err.find("3 received (3 unique), 0 lost"), std::string::npos) << rx.err;
  EXPECT_NE(rx.err.find("stack drops: none"), std::string::npos) << rx.err;
}

// The same receive with --tap: open_device wraps the AF_XDP port, and the pcap it writes is what
// tshark reads: the three datagrams the kernel sent (exact payload tails) and the IGMP reports the
// stack sent, as many frames as the tool says it wrote.
TEST(mcast_afxdp, tap_on_the_afxdp_port_writes_a_pcap_tshark_reads) {
  REQUIRE_AFXDP();
  RINGLAB_REQUIRE(t::program_missing("tshark", "tshark"));
  const std::string tap = "/tmp/ringlab-afxdp-tap-" + std::to_string(::getpid()) + ".pcap";
  received rx;
  ASSERT_NO_FATAL_FAILURE(receive_three_lines(4, "239.77.4.1", "47004", {"--quiet", "--tap", tap}, rx));
  const auto at = rx.err.find("mcast-recv: tap: ");
  ASSERT_NE(at, std::string::npos) << rx.err;
  const std::uint64_t written = std::strtoull(rx.err.c_str() + at + 17, nullptr, 10);

  // One tshark pass over every frame: source, destination, UDP port, IGMP type, UDP payload.
  auto all = t::run({"tshark", "-r", tap, "-T", "fields", "-E", "occurrence=f", "-e", "ip.src", "-e", "ip.dst", "-e",
                     "udp.dstport", "-e", "igmp.type", "-e", "udp.payload"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::vector<std::string> udp;
  std::size_t frames = 0, reports = 0;
  std::istringstream is(all.out);
  for (std::string l; std::getline(is, l); ++frames) {
    std::vector<std::string> f;
    std::istringstream ls(l);
    for (std::string x; std::getline(ls, x, '\t');) f.push_back(x);
    f.resize(5);
    if (f[2] == "47004") udp.push_back(f[0] + " " + f[1] + " " + f[4]);
    if (f[0] == "10.204.0.2" && !f[3].empty()) ++reports;   // an IGMP message the stack sent (its join)
  }
  EXPECT_EQ(frames, written) << all.out;
  EXPECT_GE(reports, 1u) << "no IGMP report from the stack in the tap:\n" << all.out;
  ASSERT_EQ(udp.size(), 3u) << all.out;
  const char* tails[] = {"6f6e65", "74776f20776f726473", "7468726565"};   // one, two words, three
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(udp[i].rfind("10.204.0.1 239.77.4.1 ", 0), 0u) << udp[i];
    EXPECT_TRUE(udp[i].size() > 30 && udp[i].ends_with(tails[i])) << udp[i];
  }
  std::remove(tap.c_str());
}

}  // namespace
