// Stock `iperf3 -c ... -t 1 -J` (Debian's 3.12) in one namespace against `ringlab iperf3-server
// --once --json` in another, joined by a veth pair; normal, -R and -P 2, with the server on kernel
// sockets and on the user-space stack over AF_XDP (copy mode on the veth end). The client exits 0,
// its JSON shows bytes > 0 both ways, and the bytes it says the server counted (sum_received; with
// -R sum_sent) are exactly the bytes our server printed, per stream too.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/preconditions.hpp"
#include "tests/support/ringlab_cli.hpp"

using namespace std::chrono_literals;
namespace t = ringlab::test;
using nlohmann::json;
using ringlab::test::ringlab_binary;

namespace {


void run_case(int net, const std::string& backend, const std::vector<std::string>& client_args) {
  const std::string n = std::to_string(net), prefix = "10.21" + n + ".0.", port = std::to_string(45200 + net);
  t::netns cli_ns("rlic" + n), srv_ns("rlis" + n);
  t::veth_pair link(cli_ns, prefix + "1/24", srv_ns, prefix + "2/24");
  // A locally sent TCP segment crosses a veth with a partial checksum, which the kernel accepts
  // (CHECKSUM_PARTIAL) but our stack rightly drops: the client computes its checksums.
  auto off = cli_ns.exec({"ethtool", "-K", link.a_name(), "tx", "off"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  std::vector<std::string> argv{ringlab_binary(), "iperf3-server", "--backend", backend, "--port", port, "--once", "--json"};
  if (backend == "afxdp")
    for (const std::string& x : {std::string("--iface"), link.b_name(), std::string("--mac"), "02:00:00:00:cc:0" + n,
                                 std::string("--addr"), prefix + "2/24"})
      argv.push_back(x);
  auto srv = srv_ns.spawn(argv);
  ASSERT_TRUE(t::eventually([&] { return srv.err().find("listening on") != std::string::npos || !srv.running(); }, 10s))
      << srv.err();
  ASSERT_EQ(srv.err().find("falling back"), std::string::npos) << "the device did not open: " << srv.err();
  ASSERT_NE(srv.err().find("(backend " + backend), std::string::npos) << srv.err();

  std::vector<std::string> c{"timeout", "30", "iperf3", "-c", prefix + "2", "-p", port, "-t", "1", "-J"};
  c.insert(c.end(), client_args.begin(), client_args.end());
  auto client = cli_ns.exec(c);
  ASSERT_EQ(client.exit_code, 0) << client.out << client.err << "\nserver: " << srv.err();
  const auto code = srv.wait_for(15s);
  ASSERT_TRUE(code.has_value()) << srv.err();
  EXPECT_EQ(*code, 0) << srv.err();

  const json cj = json::parse(client.out, nullptr, false);
  ASSERT_TRUE(cj.is_object()) << client.out;
  const json& end = cj["end"];
  const std::uint64_t sent = end["sum_sent"]["bytes"], received = end["sum_received"]["bytes"];
  EXPECT_GT(sent, 0u);
  EXPECT_GT(received, 0u);
  // The server's one JSON line.
  std::istringstream is(srv.out());
  std::string line;
  ASSERT_TRUE(std::getline(is, line)) << srv.err();
  const json sj = json::parse(line, nullptr, false);
  ASSERT_TRUE(sj.is_object()) << line;
  EXPECT_EQ(sj["completed"], true) << sj["error"];
  EXPECT_EQ(sj["backend"].get<std::string>().rfind(backend, 0), 0u) << sj["backend"];
  const bool reverse = std::find(client_args.begin(), client_args.end(), "-R") != client_args.end();
  EXPECT_EQ(sj["reverse"], reverse);
  const std::uint64_t ours = sj["bytes"];
  EXPECT_GT(ours, 0u);
  EXPECT_EQ(reverse ? sent : received, ours) << "the client's figure for the server's side is ours, exactly";
  // Per stream: the client's streams[i].receiver (or .sender with -R) bytes are our streams' bytes.
  ASSERT_EQ(cj["end"]["streams"].size(), sj["streams"].size());
  for (std::size_t i = 0; i < sj["streams"].size(); ++i) {
    const json& cs = cj["end"]["streams"][i][reverse ? "sender" : "receiver"];
    EXPECT_EQ(cs["bytes"], sj["streams"][i]["bytes"]) << "stream " << i;
  }
  if (reverse) {
    EXPECT_GE(end["sum_sent"]["retransmits"].get<std::int64_t>(), 0);
  }
}

#define REQUIRE_NETNS_IPERF3()                              \
  RINGLAB_REQUIRE(t::netns_unavailable());                  \
  RINGLAB_REQUIRE(t::program_missing("iperf3", "iperf3"));  \
  RINGLAB_REQUIRE(t::program_missing("ethtool", "ethtool"))
#define REQUIRE_AFXDP()                                      \
  REQUIRE_NETNS_IPERF3();                                    \
  RINGLAB_REQUIRE(t::afxdp_unavailable());                   \
  RINGLAB_REQUIRE(t::memlock_below(std::uint64_t{8} << 20)); \
  RINGLAB_REQUIRE(AFXDP_NOT_BUILT())

TEST(iperf3_netns, kernel_receive) {
  REQUIRE_NETNS_IPERF3();
  run_case(1, "kernel", {});
}
TEST(iperf3_netns, kernel_reverse) {
  REQUIRE_NETNS_IPERF3();
  run_case(2, "kernel", {"-R"});
}
TEST(iperf3_netns, kernel_two_streams) {
  REQUIRE_NETNS_IPERF3();
  run_case(3, "kernel", {"-P", "2"});
}
TEST(iperf3_netns, afxdp_receive) {
  REQUIRE_AFXDP();
  run_case(4, "afxdp", {});
}
TEST(iperf3_netns, afxdp_reverse) {
  REQUIRE_AFXDP();
  run_case(5, "afxdp", {"-R"});
}
TEST(iperf3_netns, afxdp_two_streams) {
  REQUIRE_AFXDP();
  run_case(6, "afxdp", {"-P", "2"});
}

}  // namespace
