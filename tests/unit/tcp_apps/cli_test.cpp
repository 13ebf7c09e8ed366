// `ringlab tcp-echo` and `ringlab http-serve` as a user meets them: the built binary, exit codes
// (0 done, 1 the run failed, 2 bad input) and exact lines. --backend sim runs without privileges;
// --backend kernel uses loopback only.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/ringlab_cli.hpp"
#include "tools/ringlab/checksum_hint.hpp"

using ringlab::test::lines_of;
using ringlab::test::ringlab_binary;
using ringlab::test::run;

namespace {

// Golden digest of the client's stream for --seed 1, 1 MiB, connection 0 (tools/tcp_apps/byte_stream.hpp):
// it changes only if the generator does, which changes every recorded run.
const std::string seed1_1m = "4e92882ab509439bb5ec8387d36e84c25c1d0d45506274f73ba18c3ac1bf44f6";

TEST(tcp_echo_cli, sim_exact_both_ways) {
  auto r = run({ringlab_binary(), "tcp-echo", "client", "--backend", "sim", "--bytes", "1M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 2u) << r.out;
  EXPECT_EQ(l[0], "server conn 0 10.0.0.1:49152 sent=1048576 received=1048576 sha256_sent=" + seed1_1m +
                      " sha256_received=" + seed1_1m + " ok");
  EXPECT_EQ(l[1], "client conn 0 10.0.0.2:7007 sent=1048576 received=1048576 sha256_sent=" + seed1_1m +
                      " sha256_received=" + seed1_1m + " ok");
  EXPECT_NE(r.err.find("tcp-echo: sim: 1048576 bytes echoed on 1 connection in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tcp-echo: sim: client stack drops: none"), std::string::npos) << r.err;
}

TEST(tcp_echo_cli, sim_with_loss_same_digests_and_retransmissions_in_stats) {
  auto r = run({ringlab_binary(), "tcp-echo", "client", "--backend", "sim", "--bytes", "1M", "--faults",
                "drop=0.02,seed=4", "--stats"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 2u) << r.out;
  EXPECT_EQ(l[1], "client conn 0 10.0.0.2:7007 sent=1048576 received=1048576 sha256_sent=" + seed1_1m +
                      " sha256_received=" + seed1_1m + " ok");
  // --stats at exit: both lanes' nstat tables, on standard error; the wire dropped frames and the
  // stacks sent segments again.
  EXPECT_NE(r.err.find("client lane (host 10.0.0.1):\n#kernel\nTcpActiveOpens                  1 "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("server lane (host 10.0.0.2):\n#kernel\nTcpActiveOpens                  0 "), std::string::npos);
  const auto at = r.err.find("TcpRetransSegs");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(r.err.find("TcpRetransSegs                  0 ", at), std::string::npos) << "no retransmission with 2% loss";
  EXPECT_EQ(r.err.find(" 0 dropped;"), std::string::npos) << r.err;
}

TEST(tcp_echo_cli, sim_stats_every_shows_connections_as_ss) {
  auto r = run({ringlab_binary(), "tcp-echo", "client", "--backend", "sim", "--bytes", "4M", "--stats=0.004"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("tcp-echo: stats at 0.004000 s (virtual)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\nESTAB      "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("10.0.0.1:49152 10.0.0.2:7007\n\t ts sack cubic wscale:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" cwnd:"), std::string::npos);
}

TEST(tcp_echo_cli, kernel_loopback_client_and_server) {
  auto port = std::to_string(47000 + ::getpid() % 1000);
  auto srv = ringlab::test::background_process({ringlab_binary(), "tcp-echo", "server", "--listen", "127.0.0.1", "--port",
                                                port, "--count", "2"});
  ASSERT_TRUE(ringlab::test::eventually([&] { return srv.err().find("listening") != std::string::npos; },
                                        std::chrono::seconds(10)))
      << srv.err();
  auto r = run({ringlab_binary(), "tcp-echo", "client", "--port", port, "--connections", "2", "--bytes", "1M",
                "--block", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].substr(0, l[0].find(" sha256_sent=")), "client conn 0 127.0.0.1:" + port + " sent=1048576 received=1048576");
  EXPECT_NE(l[0].find("sha256_sent=" + seed1_1m + " sha256_received=" + seed1_1m + " ok"), std::string::npos) << l[0];
  const auto code = srv.wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << srv.err();
  EXPECT_NE(srv.out().find("received=1048576 sha256_sent=" + seed1_1m + " sha256_received=" + seed1_1m + " ok"),
            std::string::npos)
      << srv.out();
}

// A device that cannot open: one line says why, and the same client runs over kernel sockets.
TEST(tcp_echo_cli, afxdp_falls_back_to_kernel_with_one_line) {
  auto port = std::to_string(46000 + ::getpid() % 1000);
  auto srv = ringlab::test::background_process({ringlab_binary(), "tcp-echo", "server", "--listen", "127.0.0.1", "--port",
                                                port, "--count", "1"});
  ASSERT_TRUE(ringlab::test::eventually([&] { return srv.err().find("listening") != std::string::npos; },
                                        std::chrono::seconds(10)));
  auto r = run({ringlab_binary(), "tcp-echo", "client", "--backend", "afxdp", "--iface", "nosuch0", "--connect",
                "127.0.0.1", "--port", port, "--local-port", port == "46999" ? "46998" : "46999", "--bytes", "1M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "tcp-echo: backend 'afxdp' cannot start (afxdp: nosuch0: no such interface in this network namespace): "
                   "falling back to 'kernel'\n");
  EXPECT_NE(r.out.find(" sha256_sent=" + seed1_1m + " sha256_received=" + seed1_1m + " ok\n"), std::string::npos) << r.out;
  EXPECT_EQ(srv.wait_for(std::chrono::seconds(10)), std::optional<int>(0));
}

// A loopback port nothing listens on: bound and closed again here.
std::string free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return std::to_string(ntohs(a.sin_port));
}

TEST(tcp_echo_cli, refused_is_exit_1_with_the_reason) {
  const std::string port = free_port();
  auto r = run({ringlab_binary(), "tcp-echo", "client", "--port", port});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "tcp-echo: connection 0 to 127.0.0.1:" + port + ": connect: Connection refused\n");
}

// A port already in use: nothing ran, so exit 2 (the exit table's "bad input"), one line naming the
// failing step and the port, nothing on standard output; for the three servers.
TEST(tcp_apps_cli, port_in_use_is_exit_2_naming_the_port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string port = std::to_string(ntohs(a.sin_port));
  for (const std::string cmd : {"tcp-echo", "http-serve", "iperf3-server"}) {
    std::vector<std::string> argv{ringlab_binary(), cmd};
    if (cmd == "tcp-echo") argv.push_back("server");
    argv.insert(argv.end(), {"--port", port, "--timeout", "5"});
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.err;
    EXPECT_EQ(r.err, "ringlab " + cmd + ": bind 0.0.0.0:" + port + ": Address already in use\n");
    EXPECT_EQ(r.out, "");
  }
  ::close(fd);
}

// iperf3-server's --timeout and --stats, as the other two servers have them: the kernel server stops
// at its timeout, says so, and prints its --stats block at exit; the self-test refuses both.
TEST(iperf3_server_cli, timeout_ends_it_and_stats_print_at_exit) {
  const std::string port = free_port();
  auto r = run({ringlab_binary(), "iperf3-server", "--bind", "127.0.0.1", "--port", port, "--timeout", "0.3", "--stats"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "iperf3-server: listening on 127.0.0.1:" + port + " (backend kernel)\n"
                   "iperf3-server: stats at exit\nkernel backend: lane counters are the kernel's (nstat -az)\n"
                   "no open connection (each one's TCP_INFO prints while it lives: --stats=SECONDS)\n"
                   "iperf3-server: ended by timeout\n");
  // --listen, the other servers' name for the address, is --bind's other name; both at once is refused.
  r = run({ringlab_binary(), "iperf3-server", "--listen", "127.0.0.1", "--port", port, "--timeout", "0.1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "iperf3-server: listening on 127.0.0.1:" + port + " (backend kernel)\n"
                   "iperf3-server: ended by timeout\n");
  r = run({ringlab_binary(), "iperf3-server", "--listen", "127.0.0.1", "--bind", "127.0.0.1", "--port", port});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ringlab iperf3-server: --bind and --listen are one option: give one\n");
  r = run({ringlab_binary(), "iperf3-server", "--backend", "sim", "--self-test", "--timeout", "5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ringlab iperf3-server: --timeout does not apply to --backend sim --self-test (it ends when its test does)\n");
}

struct usage_case {
  std::vector<std::string> args;
  std::string err;
};

// Each case after `head`: exit 2, exactly its one line on standard error, nothing on standard output.
void expect_usage_errors(const std::vector<std::string>& head, const std::vector<usage_case>& cases) {
  for (const auto& x : cases) {
    std::vector<std::string> argv = head;
    argv.insert(argv.end(), x.args.begin(), x.args.end());
    auto r = run(argv);
    std::string cmd;
    for (const auto& w : argv) cmd += w + " ";
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_EQ(r.err, x.err) << cmd;
    EXPECT_EQ(r.out, "") << cmd;
  }
}

TEST(tcp_echo_cli, bad_input_is_exit_2) {
  expect_usage_errors({ringlab_binary(), "tcp-echo"}, {
      {{"client", "--port", "0"}, "ringlab tcp-echo: --port: '0' is not a whole number in 1..65535\n"},
      {{"both"}, "ringlab tcp-echo: 'both' is neither server nor client\n"},
      {{}, "ringlab tcp-echo: server or client is required (see --help)\n"},
      {{"client", "--bytes", "1X"}, "ringlab tcp-echo: --bytes: '1X' is not a size in 0..1099511627776 bytes (suffix k, M, G allowed)\n"},
      {{"server", "--backend", "sim"}, "ringlab tcp-echo: --backend sim runs both ends in this process: use 'client'\n"},
      {{"client", "--backend", "afxdp", "--connect", "10.0.0.1"},
       "ringlab tcp-echo: --backend afxdp client needs --local-port N (the XDP program steers TCP by destination port: "
       "the server's replies come to our source port)\n"},
      {{"server", "--bytes", "5"}, "ringlab tcp-echo: --bytes does not apply to server (client options)\n"},
      {{"client", "--backend", "sim", "--faults", "drop=2"},
       "ringlab tcp-echo: --faults: fault spec field 'drop': '2' is not a probability in 0..1\n"},
  });
}

// --lanes: the server host's N queues over sim; each connection's line names its lane; the per-lane
// passive opens sum to the connections. Bad --lanes uses: exit 2 with the reason, nothing run.
TEST(tcp_echo_cli, sim_lanes_serve_on_every_lane) {
  auto r = run({ringlab_binary(), "tcp-echo", "client", "--backend", "sim", "--lanes", "2", "--connections", "4",
                "--bytes", "64k", "--stats"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 8u) << r.out;
  std::size_t lane0 = 0, lane1 = 0;
  for (const auto& x : l) {
    EXPECT_EQ(x.substr(x.size() - 3), " ok") << x;
    lane0 += x.rfind("server lane 0 conn ", 0) == 0;
    lane1 += x.rfind("server lane 1 conn ", 0) == 0;
  }
  EXPECT_EQ(lane0 + lane1, 4u) << r.out;
  EXPECT_NE(r.err.find("tcp-echo: sim: server passive opens per lane: lane0=" + std::to_string(lane0) +
                       " lane1=" + std::to_string(lane1) + "\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("all lanes:\n#kernel\nTcpActiveOpens                  0                  0.0\n"
                       "TcpPassiveOpens                 4                  0.0\n"),
            std::string::npos)
      << r.err;
}

TEST(tcp_echo_cli, lanes_bad_input_is_exit_2) {
  expect_usage_errors({ringlab_binary()}, {
      {{"tcp-echo", "server", "--lanes", "2"},
       "ringlab tcp-echo: --lanes 2: --backend kernel is Linux's TCP, which spreads connections over CPUs itself "
       "(RPS/RFS); lanes are the bypass backends' (afxdp, dpdk, sim)\n"},
      {{"tcp-echo", "server", "--lanes", "0"}, "ringlab tcp-echo: --lanes: '0' is not a whole number in 1..64\n"},
      {{"http-serve", "--backend", "afxdp", "--iface", "lo", "--lanes", "4"},
       "ringlab http-serve: --lanes 4: interface lo has 1 RX queue (channels); a lane needs one each (ethtool -L lo "
       "combined 4, or a veth made with numrxqueues)\n"},
      {{"tcp-echo", "server", "--backend", "dpdk", "--vdev", "net_af_xdp0,iface=lo", "--lanes", "2"},
       "ringlab tcp-echo: --lanes 2: DPDK's net_af_xdp opens one queue per combined channel of lo, and it has 1 (no "
       "channels: one queue); a lane needs one each (ethtool -L lo combined 2; a veth has no channels: use --backend "
       "afxdp for lanes on a veth)\n"},
      {{"http-serve", "--backend", "afxdp", "--iface", "lo", "--neighbour", "10.0.0.1=02:00:00:00:00:01"},
       "ringlab http-serve: --neighbour does not apply to --lanes 1 (the lane learns its peers by ARP)\n"},
      {{"iperf3-server", "--lanes", "2"},
       "ringlab iperf3-server: --lanes 2: --backend kernel is Linux's TCP, which spreads connections over CPUs itself "
       "(RPS/RFS); lanes are the bypass backends' (afxdp, dpdk, sim)\n"},
      {{"iperf3-server", "--backend", "afxdp", "--iface", "lo", "--lanes", "2"},
       "ringlab iperf3-server: --lanes 2: interface lo has 1 RX queue (channels); a lane needs one each (ethtool -L lo "
       "combined 2, or a veth made with numrxqueues)\n"},
      {{"iperf3-server", "--backend", "sim"},
       "ringlab iperf3-server: --backend sim: a simulated NIC has no wire that `iperf3 -c` can reach: add --self-test "
       "(our iperf3 client in this process), or use kernel, afxdp or dpdk\n"},
  });
}

// --tcp-secret N (real ports: ISNs and cookies that repeat): refused where no lane of ours runs on a
// real port, and a value outside 1..2^64-1 is exit 2 before any device opens.
TEST(tcp_apps_cli, tcp_secret_bad_input_is_exit_2) {
  expect_usage_errors({ringlab_binary()}, {
      {{"tcp-echo", "server", "--tcp-secret", "5"},
       "ringlab tcp-echo: --tcp-secret does not apply to --backend kernel (the stack's host: bypass backends only)\n"},
      {{"http-serve", "--tcp-secret", "5"},
       "ringlab http-serve: --tcp-secret does not apply to --backend kernel (bypass backends only)\n"},
      {{"iperf3-server", "--tcp-secret", "5"},
       "ringlab iperf3-server: --tcp-secret does not apply to --backend kernel (bypass backends only)\n"},
      {{"iperf3-server", "--backend", "sim", "--self-test", "--tcp-secret", "5"},
       "ringlab iperf3-server: --tcp-secret does not apply to --backend sim (its stacks keep a fixed secret: a seeded "
       "run repeats)\n"},
      {{"tcp-echo", "client", "--backend", "sim", "--tcp-secret", "5"},
       "ringlab tcp-echo: --tcp-secret does not apply to --backend sim (its stacks keep a fixed secret: a seeded run "
       "repeats)\n"},
      {{"tcp-echo", "server", "--backend", "afxdp", "--iface", "lo", "--tcp-secret", "0"},
       "ringlab tcp-echo: --tcp-secret: '0' is not a whole number in 1..18446744073709551615\n"},
      {{"iperf3-server", "--backend", "afxdp", "--iface", "lo", "--tcp-secret", "x"},
       "ringlab iperf3-server: --tcp-secret: 'x' is not a whole number in 1..18446744073709551615\n"},
  });
}

// --lanes 2 -P 4 over the sim: each stream on the lane sim_nic's RSS gives it (the seeded ports: 2 and
// 2), the exact per-lane bytes, the control connection's lane.
TEST(iperf3_server_cli, sim_self_test_on_two_lanes) {
  auto r = run({ringlab_binary(), "iperf3-server", "--backend", "sim", "--self-test", "--lanes", "2", "--parallel", "4",
                "--bytes", "1M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("iperf3-server: 10.0.0.1:49152: 4 streams, receiver: read 4194304 bytes in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("iperf3-server: control connection on lane 1; streams: 1@lane0 3@lane1 4@lane0 5@lane1\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("iperf3-server: self-test: bytes per lane (each stream on the lane RSS gives it): lane0=2097152 "
                       "lane1=2097152\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("iperf3-server: self-test ok: both ends' counts agree\n"), std::string::npos) << r.err;
}

TEST(iperf3_server_cli, sim_self_test_both_ends_agree) {
  auto r = run({ringlab_binary(), "iperf3-server", "--backend", "sim", "--self-test", "--parallel", "2", "--bytes",
                "1M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("iperf3-server: 10.0.0.1:49152: 2 streams, receiver: read 2097152 bytes in "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("iperf3-server: self-test client: 2 streams, sender: wrote 2097152 bytes; the server "
                       "(receiver) says it read 2097152 ("),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("iperf3-server: self-test ok: both ends' counts agree\n"), std::string::npos) << r.err;
}

// -R, as iperf3 names the roles: the server is the sender (what its writes handed to the socket, with
// its retransmits), the client the receiver (what it read: its target, 1 MiB a stream).
TEST(iperf3_server_cli, sim_self_test_reverse_names_the_server_the_sender) {
  auto r = run({ringlab_binary(), "iperf3-server", "--backend", "sim", "--self-test", "--reverse", "--parallel", "2",
                "--bytes", "1M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("iperf3-server: 10.0.0.1:49152: 2 streams, sender (-R): wrote "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" retransmits\n"), std::string::npos) << r.err;
  // The client reads its 1 MiB a stream and stops (a block may end past it); the server wrote more:
  // what its socket accepted, some never read. The figures move with the engine: their relation is pinned.
  const auto at = r.err.find("iperf3-server: self-test client: 2 streams, receiver (-R): read ");
  ASSERT_NE(at, std::string::npos) << r.err;
  unsigned long long read = 0, wrote = 0;
  ASSERT_EQ(std::sscanf(r.err.c_str() + at,
                        "iperf3-server: self-test client: 2 streams, receiver (-R): read %llu bytes; the server "
                        "(sender) says it wrote %llu (",
                        &read, &wrote),
            2)
      << r.err;
  EXPECT_GE(read, 2u * 1048576u);
  EXPECT_GE(wrote, read);
  EXPECT_NE(r.err.find("sender (-R): wrote " + std::to_string(wrote) + " bytes in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("iperf3-server: self-test ok: both ends' counts agree\n"), std::string::npos) << r.err;
}

// Every option is read before the server binds: a bad value is exit 2, one line, and no "listening"
// (which would say something ran). Had it bound the port (one nothing listens on), the listening line
// would come first.
TEST(http_serve_cli, every_option_is_checked_before_it_listens) {
  const std::string port = std::to_string(45000 + ::getpid() % 1000);
  expect_usage_errors(
      {"timeout", "10", ringlab_binary(), "http-serve", "--port", port},
      {
          {{"--timeout", "abc"}, "ringlab http-serve: --timeout: 'abc' is not a number in 0..1000000\n"},
          {{"--timeout", "-5"}, "ringlab http-serve: --timeout: '-5' is not a number in 0..1000000\n"},
          {{"--timeout", "1e9"}, "ringlab http-serve: --timeout: '1e9' is not a number in 0..1000000\n"},
          {{"--stats=abc"}, "ringlab http-serve: --stats: 'abc' is not a number in 0..86400\n"},
          {{"--listen", "10.0.0.256"}, "ringlab http-serve: --listen: '10.0.0.256' is not a unicast IPv4 address\n"},
          {{"--body-size", "65M"},
           "ringlab http-serve: --body-size: '65M' is not a size in 0..67108864 bytes (suffix k, M, G allowed)\n"},
      });
}

// The same for iperf3-server (it read everything first already: kept so).
TEST(iperf3_server_cli, every_option_is_checked_before_it_listens) {
  expect_usage_errors(
      {"timeout", "10", ringlab_binary(), "iperf3-server"},
      {
          {{"--port", "0"}, "ringlab iperf3-server: --port: '0' is not a whole number in 1..65535\n"},
          {{"--bind", "abc"}, "ringlab iperf3-server: --bind: 'abc' is not an IPv4 address\n"},
          {{"--backend", "afxdp", "--iface", "nosuch0", "--addr", "10.0.0.300/24"},
           "ringlab iperf3-server: --addr: '10.0.0.300/24' is not a unicast IPv4 address (A.B.C.D/PREFIX)\n"},
          {{"--backend", "afxdp"}, "ringlab iperf3-server: --backend afxdp needs --iface NAME\n"},
      });
}

// --help: --stats takes an optional value and says so; --timeout has one default and one sentence;
// --body-size names every suffix the parser takes.
TEST(tcp_apps_cli, help_texts_say_what_the_parser_takes) {
  for (const char* cmd : {"tcp-echo", "http-serve"}) {
    auto r = run({ringlab_binary(), cmd, "--help"});
    ASSERT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("\n  --stats[=SECONDS]       print per-lane counters"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("--stats SECONDS"), std::string::npos) << r.out;
    const auto at = r.out.find("\n  --timeout SECONDS ");
    ASSERT_NE(at, std::string::npos) << r.out;
    const std::string line = r.out.substr(at + 1, r.out.find("\n  --", at + 1) - at - 1);
    EXPECT_EQ(line.find("(default"), line.rfind("(default")) << line;   // one default
    EXPECT_NE(line.find("0 for no limit"), std::string::npos) << line;
  }
  auto h = run({ringlab_binary(), "http-serve", "--help"});
  EXPECT_NE(h.out.find("suffix k, M or G; at most 64M) (default 128)"), std::string::npos) << h.out;
}

// --stats on kernel sockets: each block while a connection lives shows it (TCP_INFO), stamped with the
// time since the start; every block says where the lane counters are; the block at exit, with no
// connection left, says so in words (not a bare table header).
TEST(tcp_echo_cli, kernel_stats_show_live_connections_and_say_where_the_counters_are) {
  const std::string port = std::to_string(44000 + ::getpid() % 1000);
  auto srv = ringlab::test::background_process({ringlab_binary(), "tcp-echo", "server", "--listen", "127.0.0.1", "--port",
                                                port, "--count", "1", "--stats=0.1"});
  ASSERT_TRUE(ringlab::test::eventually([&] { return srv.err().find("listening") != std::string::npos; },
                                        std::chrono::seconds(10)))
      << srv.err();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port)));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::write(fd, "hello", 5), 5);
  const std::string live = "\nESTAB      0      0      127.0.0.1:" + port + " 127.0.0.1:";
  EXPECT_TRUE(ringlab::test::eventually([&] { return srv.err().find(live) != std::string::npos; },
                                        std::chrono::seconds(10)))
      << srv.err();
  // Linux's own tail of TCP_INFO (linux/tcp.h, not glibc's copy): the 5 bytes received and echoed.
  EXPECT_TRUE(ringlab::test::eventually(
      [&] {
        return std::regex_search(srv.err(), std::regex(" bytes_acked:5 bytes_received:5 segs_out:[1-9][0-9]* segs_in:[1-9]"));
      },
      std::chrono::seconds(10)))
      << srv.err();
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);   // the server half-closes in turn and counts the connection
  char buf[16];
  while (::read(fd, buf, sizeof buf) > 0) {}
  ::close(fd);
  const auto code = srv.wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << srv.err();
  const std::string err = srv.err();
  EXPECT_TRUE(std::regex_search(err, std::regex("\ntcp-echo: stats at [0-9]+\\.[0-9]{6} s\nkernel backend: lane "
                                                "counters are the kernel's \\(nstat -az\\)\nState      Recv-Q")))
      << err;
  EXPECT_NE(err.find("\ntcp-echo: stats at exit\nkernel backend: lane counters are the kernel's (nstat -az)\n"
                     "no open connection (each one's TCP_INFO prints while it lives: --stats=SECONDS)\n"
                     "tcp-echo: server ended by --count\n"),
            std::string::npos)
      << err;
}

// A server stopped by the user ended normally: exit 0, and it says so (the afxdp/dpdk runs of the same
// are tests/netns/tcp_apps).
TEST(tcp_echo_cli, kernel_server_stopped_by_sigint_exits_0) {
  const std::string port = std::to_string(43000 + ::getpid() % 1000);
  auto srv = ringlab::test::background_process(
      {ringlab_binary(), "tcp-echo", "server", "--listen", "127.0.0.1", "--port", port});
  ASSERT_TRUE(ringlab::test::eventually([&] { return srv.err().find("listening") != std::string::npos; },
                                        std::chrono::seconds(10)))
      << srv.err();
  srv.signal(SIGINT);
  const auto code = srv.wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << srv.err();
  EXPECT_EQ(srv.err(), "tcp-echo: listening on 127.0.0.1:" + port + " (backend kernel)\ntcp-echo: server ended by signal\n");
}

// A TCP app on a real port whose veth peer leaves checksums to TX offload: the peer's SYNs all fail
// their checksum. Three of them (the SYN and two retransmissions, ~3 s) and none good: the hint; fewer,
// one good segment, or no real port: none.
TEST(tcp_apps_hint, checksum_offload_rule_for_a_tcp_lane) {
  using ringlab::cli::tcp_checksum_offload_hint;
  // in_segs, in_errs, in_csum_errors: TcpInSegs counts every segment, TcpInErrs the bad ones.
  EXPECT_EQ(tcp_checksum_offload_hint("iperf3-server", "afxdp", 3, 3, 3),
            "iperf3-server: hint: 3 TCP segments on afxdp failed their checksum (bad_l4_checksum) and none was "
            "delivered: the sending veth peer leaves checksums to TX offload, which nothing runs before afxdp takes "
            "the frame; turn it off on the peer: ethtool -K PEER tx off (backends/README.md)\n");
  EXPECT_NE(tcp_checksum_offload_hint("tcp-echo", "dpdk", 20, 20, 20), "");
  EXPECT_NE(tcp_checksum_offload_hint("http-serve", "afxdp", 5, 5, 3), "");   // + 2 bad headers: none good
  EXPECT_EQ(tcp_checksum_offload_hint("tcp-echo", "afxdp", 2, 2, 2), "");     // two: the next may pass
  EXPECT_EQ(tcp_checksum_offload_hint("tcp-echo", "afxdp", 9, 8, 8), "");     // one got through: checksums work
  EXPECT_EQ(tcp_checksum_offload_hint("tcp-echo", "sim", 9, 9, 9), "");       // sim_nic: no veth peer
  EXPECT_EQ(tcp_checksum_offload_hint("tcp-echo", "kernel", 9, 9, 9), "");
  // The UDP rule (mcast-recv) keeps its 8: a lost datagram is not sent again.
  EXPECT_EQ(ringlab::cli::checksum_offload_hint("mcast-recv", "afxdp", 3, 0), "");
}

TEST(http_serve_cli, bad_input_is_exit_2) {
  auto r = run({ringlab_binary(), "http-serve", "--backend", "sim"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ringlab http-serve: --backend: 'sim' is not kernel, afxdp or dpdk (sim has no peer to serve: "
                   "ringlab tcp-echo --backend sim)\n");
  r = run({ringlab_binary(), "http-serve", "--body-size", "x"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace

namespace {

// ./lab demo's TCP part: the echo over the bypass path with a little loss, exact, pools balanced.
TEST(demo_cli, tcp_part_is_exact_and_shows_the_repair) {
  auto r = run({ringlab_binary(), "demo", "--queues", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto at = r.out.find("\n  TCP: tcp-echo over the bypass path: 10.0.0.1 -> 10.0.0.2");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string tcp = r.out.substr(at);
  EXPECT_NE(tcp.find("    1048576 bytes sent, 1048576 echoed back in "), std::string::npos) << tcp;
  EXPECT_NE(tcp.find("    sha256 sent " + seed1_1m + "\n           back " + seed1_1m +
                     " (match, and the server hashed the same)\n"),
            std::string::npos)
      << tcp;
  EXPECT_NE(tcp.find("TcpRetransSegs="), std::string::npos) << "1% loss and nothing sent again:\n" << tcp;
  EXPECT_NE(tcp.find("    frame pools: 0 out after the run (balanced)\n"), std::string::npos) << tcp;
  auto none = run({ringlab_binary(), "demo", "--queues", "1", "--tcp-bytes", "0"});
  ASSERT_EQ(none.exit_code, 0);
  EXPECT_EQ(none.out.find("TCP:"), std::string::npos);
}

}  // namespace
