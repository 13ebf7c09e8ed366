// `ringlab mcast-send --backend afxdp` on a real interface: two namespaces joined by a veth pair; the
// sender's user-space stack sends through AF_XDP (copy mode on the veth end, as backends/afxdp does
// here), the receiver is the kernel (`mcast-recv --backend kernel`, joined to the group on the other
// end). Exactly the sent lines arrive, in order, and the sender's summary counts them exactly. The
// receiving kernel checks the IPv4 and UDP checksums our stack wrote: a wrong one would be dropped.
// The sender's veth end has no kernel address: our stack owns 10.205.0.1.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
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

#ifdef RINGLAB_HAVE_XDP
constexpr bool have_xdp = true;
#else
constexpr bool have_xdp = false;
#endif

struct send_run {
  t::command_result tx;   // the sender's exit code, stdout (its summary) and stderr
  std::string rx_out, rx_err;
  int rx_code = -1;
};

// Sends `lines` with mcast-send --backend afxdp (plus extra args) to a kernel receiver waiting for them.
send_run afxdp_to_kernel(const std::vector<std::string>& lines, const std::vector<std::string>& extra, const char* port) {
  t::netns tx_ns("rlys"), rx_ns("rlyr");
  t::veth_pair link(tx_ns, "", rx_ns, "10.205.0.2/24");
  const std::string group = "239.77.5.1";
  auto rx = rx_ns.spawn({ringlab_binary(), "mcast-recv", "--backend", "kernel", "--group", group, "--port", port,
                         "--iface", link.b_name(), "--count", std::to_string(lines.size()), "--timeout", "15"});
  send_run r;
  if (!t::eventually([&] { return rx.err().find("joined") != std::string::npos || !rx.running(); }, 10s)) {
    r.rx_err = "the receiver did not join within 10 s: " + rx.err();
    return r;
  }
  const std::string input = "/tmp/ringlab-mcast-afxdp-send-" + std::to_string(::getpid()) + "-" + port + ".txt";
  {
    std::ofstream f(input);
    for (const auto& l : lines) f << l << '\n';
  }
  std::vector<std::string> argv{ringlab_binary(), "mcast-send", "--backend", "afxdp", "--iface", link.a_name(), "--mac",
                                "02:00:00:00:cd:01", "--addr", "10.205.0.1/24", "--group", group, "--port", port,
                                "--file", input};
  argv.insert(argv.end(), extra.begin(), extra.end());
  r.tx = tx_ns.exec(argv);
  std::remove(input.c_str());
  r.rx_code = rx.wait_for(15s).value_or(-1);
  r.rx_out = rx.out();
  r.rx_err = rx.err();
  return r;
}

// The machine offers AF_XDP on veth (probed apart from ringlab: tools/netns/preconditions.hpp) and the
// binary has the backend; past that, a sender that falls back to kernel sockets is a failure.
#define REQUIRE_AFXDP()                                                                        \
  do {                                                                                         \
    RINGLAB_REQUIRE(t::afxdp_unavailable());                                                   \
    RINGLAB_REQUIRE(t::memlock_below(std::uint64_t{8} << 20));                                 \
    RINGLAB_REQUIRE(have_xdp ? std::string() : t::not_built("ringlab's AF_XDP backend", "libxdp-dev, libbpf-dev, clang")); \
  } while (0)
#define ASSERT_NO_FALLBACK(r) \
  ASSERT_EQ((r).tx.err.find("falling back"), std::string::npos) << "AF_XDP did not open: " << (r).tx.err

TEST(mcast_afxdp_send, bypass_sender_to_kernel_receiver_over_veth) {
  REQUIRE_AFXDP();
  const std::vector<std::string> sent = {"one", "", "two words", std::string(1000, 'x'), "last: ünïcode"};
  const auto r = afxdp_to_kernel(sent, {}, "47005");
  ASSERT_NO_FALLBACK(r);
  EXPECT_EQ(r.tx.exit_code, 0) << r.tx.err;
  EXPECT_EQ(r.tx.err, "");
  EXPECT_EQ(r.tx.out, "mcast-send: sent 5 of 5 datagrams (1027 payload bytes, 1147 UDP bytes) to 239.77.5.1:47005, "
                      "0 errors\n");
  EXPECT_EQ(r.rx_code, 0) << r.rx_err;
  EXPECT_EQ(lines_of(r.rx_out), sent);
  EXPECT_NE(r.rx_err.find("(io epoll, backend kernel)"), std::string::npos) << r.rx_err;
  EXPECT_NE(r.rx_err.find("5 received (5 unique), 0 lost, 0 reordered, 0 duplicates, 0 stale, 0 malformed, 1147 bytes, "
                          "0 errors; ended by count"),
            std::string::npos)
      << r.rx_err;
}

TEST(mcast_afxdp_send, json_summary_names_the_afxdp_backend) {
  REQUIRE_AFXDP();
  const std::vector<std::string> sent = {"alpha", "beta", "gamma"};
  const auto r = afxdp_to_kernel(sent, {"--json"}, "47006");
  ASSERT_NO_FALLBACK(r);
  EXPECT_EQ(r.tx.exit_code, 0) << r.tx.err;
  EXPECT_EQ(r.tx.out, "{\"group\":\"239.77.5.1\",\"port\":47006,\"queued\":3,\"sent\":3,\"payload_bytes\":14,"
                      "\"bytes\":86,\"errors\":0,\"io\":null,\"backend\":\"afxdp\"}\n");
  EXPECT_EQ(r.rx_code, 0) << r.rx_err;
  EXPECT_EQ(lines_of(r.rx_out), sent);
}

}  // namespace
