// Stock `iperf3 -c ... -t 1 -J` (Debian's 3.12) in one namespace against `ringlab iperf3-server
// --once --json` in another, joined by a veth pair; normal, -R and -P 2, with the server on kernel
// sockets and on the user-space stack over AF_XDP (copy mode on the veth end). The client exits 0,
// its JSON shows bytes > 0 both ways, and the bytes it says the server counted (sum_received; with
// -R sum_sent) are exactly the bytes our server printed, per stream too.
// And --lanes 2 (afxdp) on a 2-queue veth: iperf3 -P 4 / -P 12, normal and -R, against a server per
// lane sharing one test registry: the client's figures = ours per stream, every stream served on a lane
// of the two, and with 12 streams both lanes serving.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/preconditions.hpp"
#include "tests/support/ringlab_cli.hpp"
#include "tools/netns/preconditions.hpp"

using namespace std::chrono_literals;
namespace t = ringlab::test;
using nlohmann::json;
using ringlab::test::ringlab_binary;

namespace {


// Stock `iperf3 -c ADDR -p PORT -t 1 -J ARGS` against the listening `srv`: the client exits 0, the
// server (--once) exits 0 after it; cj: the client's JSON, sj: the server's one --json line (completed).
void client_against(const t::netns& cli_ns, t::background_process& srv, const std::string& addr, const std::string& port,
                    const std::vector<std::string>& client_args, json& cj, json& sj) {
  std::vector<std::string> c{"timeout", "30", "iperf3", "-c", addr, "-p", port, "-t", "1", "-J"};
  c.insert(c.end(), client_args.begin(), client_args.end());
  auto client = cli_ns.exec(c);
  ASSERT_EQ(client.exit_code, 0) << client.out << client.err << "\nserver: " << srv.err();
  const auto code = srv.wait_for(15s);
  ASSERT_TRUE(code.has_value()) << srv.err();
  EXPECT_EQ(*code, 0) << srv.err();
  cj = json::parse(client.out, nullptr, false);
  ASSERT_TRUE(cj.is_object()) << client.out;
  std::istringstream is(srv.out());
  std::string line;
  ASSERT_TRUE(std::getline(is, line)) << srv.err();
  sj = json::parse(line, nullptr, false);
  ASSERT_TRUE(sj.is_object()) << line;
  EXPECT_EQ(sj["completed"], true) << sj["error"];
}

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
  if (backend == "afxdp") {   // which device, in which mode, as tcp-echo and http-serve say it
    EXPECT_NE(srv.err().find("iperf3-server: backend afxdp, device afxdp:" + link.b_name() + "/0 ("), std::string::npos)
        << srv.err();
  }

  json cj, sj;
  client_against(cli_ns, srv, prefix + "2", port, client_args, cj, sj);
  if (::testing::Test::HasFatalFailure()) return;
  const json& end = cj["end"];
  const std::uint64_t sent = end["sum_sent"]["bytes"], received = end["sum_received"]["bytes"];
  EXPECT_GT(sent, 0u);
  EXPECT_GT(received, 0u);
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

// --lanes 2 on a 2-queue veth, as tests/netns/tcp_apps's lanes cases: a veth gives a frame to the queue
// its sender's socket hashed to (sk_txhash, random per connection; net.core.txrehash=0 keeps it), so
// the streams spread over both queues by chance; 12 streams and the control connection all on one
// queue has chance 2^-12, the "both lanes" assertion's. The Linux side knows our MAC (a permanent
// entry) and we know its (--neighbour): ARP reaches one queue only.
void run_lanes_case(int net, const std::vector<std::string>& client_args, bool both_lanes) {
  const std::string n = std::to_string(net), prefix = "10." + std::to_string(210 + net) + ".0.", port = std::to_string(45200 + net);
  t::netns cli_ns("rlic" + n), srv_ns("rlis" + n);
  t::veth_pair link(cli_ns, prefix + "1/24", srv_ns, "", ringlab::netlab::veth_options{.queues = 2});
  auto off = cli_ns.exec({"ethtool", "-K", link.a_name(), "tx", "off"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  cli_ns.exec({"sysctl", "-qw", "net.core.txrehash=0"});   // absent before 5.18
  auto neigh = cli_ns.exec({"ip", "neigh", "replace", prefix + "2", "lladdr", link.b_mac(), "dev", link.a_name(), "nud",
                            "permanent"});
  ASSERT_EQ(neigh.exit_code, 0) << neigh.err;
  auto srv = srv_ns.spawn({ringlab_binary(), "iperf3-server", "--backend", "afxdp", "--iface", link.b_name(), "--lanes", "2",
                           "--mac", link.b_mac(), "--addr", prefix + "2/24", "--neighbour", prefix + "1=" + link.a_mac(),
                           "--port", port, "--once", "--json"});
  ASSERT_TRUE(t::eventually([&] { return srv.err().find("listening on") != std::string::npos || !srv.running(); }, 10s))
      << srv.err();
  ASSERT_NE(srv.err().find("iperf3-server: listening on " + prefix + "2:" + port + " on 2 lanes (backend afxdp"),
            std::string::npos)
      << srv.err();

  json cj, sj;
  client_against(cli_ns, srv, prefix + "2", port, client_args, cj, sj);
  if (::testing::Test::HasFatalFailure()) return;
  const bool reverse = std::find(client_args.begin(), client_args.end(), "-R") != client_args.end();
  EXPECT_EQ(sj["reverse"], reverse);
  const json& end = cj["end"];
  const std::uint64_t theirs = end[reverse ? "sum_sent" : "sum_received"]["bytes"];
  EXPECT_GT(theirs, 0u);
  EXPECT_EQ(theirs, sj["bytes"].get<std::uint64_t>()) << "the client's figure for the server's side is ours, exactly";
  const std::size_t p = std::stoul(*(std::find(client_args.begin(), client_args.end(), "-P") + 1));
  ASSERT_EQ(sj["streams"].size(), p) << sj.dump();
  ASSERT_EQ(end["streams"].size(), p);
  std::vector<std::uint64_t> per_lane(2, 0);
  std::vector<int> streams_on(2, 0);
  for (std::size_t i = 0; i < p; ++i) {
    const json& ours = sj["streams"][i];
    EXPECT_EQ(end["streams"][i][reverse ? "sender" : "receiver"]["bytes"], ours["bytes"]) << "stream " << i;
    EXPECT_GT(ours["bytes"].get<std::uint64_t>(), 0u) << "stream " << i;
    const std::size_t q = ours["lane"];
    ASSERT_LT(q, 2u) << sj.dump();
    per_lane[q] += ours["bytes"].get<std::uint64_t>();
    ++streams_on[q];
  }
  ASSERT_LT(sj["control_lane"].get<std::size_t>(), 2u);
  // The server's own line says the same streams on the same lanes.
  std::string where;
  for (std::size_t i = 0; i < p; ++i)
    where += " " + std::to_string(sj["streams"][i]["id"].get<int>()) + "@lane" + std::to_string(sj["streams"][i]["lane"].get<int>());
  EXPECT_NE(srv.err().find("iperf3-server: control connection on lane " + std::to_string(sj["control_lane"].get<int>()) +
                           "; streams:" + where + "\n"),
            std::string::npos)
      << srv.err();
  if (both_lanes) {
    EXPECT_GT(streams_on[0], 0) << srv.err();
    EXPECT_GT(streams_on[1], 0) << srv.err();
    EXPECT_EQ(per_lane[0] + per_lane[1], theirs);
  }
}

#define REQUIRE_AFXDP_LANES()                                           \
  REQUIRE_AFXDP();                                                      \
  RINGLAB_REQUIRE(ringlab::netlab::afxdp_multiqueue_unavailable());     \
  RINGLAB_REQUIRE(t::memlock_below(std::uint64_t{16} << 20))

TEST(iperf3_netns, afxdp_two_lanes_four_streams) {
  REQUIRE_AFXDP_LANES();
  run_lanes_case(7, {"-P", "4"}, false);
}
TEST(iperf3_netns, afxdp_two_lanes_four_streams_reverse) {
  REQUIRE_AFXDP_LANES();
  run_lanes_case(8, {"-P", "4", "-R"}, false);
}
TEST(iperf3_netns, afxdp_two_lanes_twelve_streams_both_lanes) {
  REQUIRE_AFXDP_LANES();
  run_lanes_case(9, {"-P", "12"}, true);
}
TEST(iperf3_netns, afxdp_two_lanes_twelve_streams_reverse_both_lanes) {
  REQUIRE_AFXDP_LANES();
  run_lanes_case(10, {"-P", "12", "-R"}, true);
}

}  // namespace
