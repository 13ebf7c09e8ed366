// Bad input to mcast-send / mcast-recv: one clear line naming the value, exit code 2, no crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/netns.hpp"
#include "tests/support/ringlab_cli.hpp"

namespace {

using ringlab::test::ringlab_binary;

struct bad_case {
  std::vector<std::string> args;
  std::string expected_line;   // the whole of stderr
};

void expect_usage_error(const bad_case& c) {
  std::vector<std::string> argv{ringlab_binary()};
  argv.insert(argv.end(), c.args.begin(), c.args.end());
  auto r = ringlab::test::run(argv);
  EXPECT_EQ(r.exit_code, 2) << c.expected_line;
  EXPECT_EQ(r.err, c.expected_line + "\n");
  EXPECT_EQ(r.out, "");
}

}  // namespace

TEST(mcast_cli, send_rejects_bad_values_with_one_line_and_exit_2) {
  const std::vector<bad_case> cases = {
      {{"mcast-send", "--group", "10.1.2.3"},
       "ringlab mcast-send: --group: '10.1.2.3' is not an IPv4 multicast address (224.0.0.0/4)"},
      {{"mcast-send", "--group", "239.1.1.300"}, "ringlab mcast-send: --group: '239.1.1.300' is not an IPv4 address"},
      {{"mcast-send", "--group", "239.1.1.1", "--port", "70000"},
       "ringlab mcast-send: --port: '70000' is not a whole number in 1..65535"},
      {{"mcast-send", "--group", "239.1.1.1", "--port", "0"},
       "ringlab mcast-send: --port: '0' is not a whole number in 1..65535"},
      {{"mcast-send", "--group", "239.1.1.1", "--iface", "rlnosuch0"},
       "ringlab mcast-send: --iface: no interface named 'rlnosuch0' here (ip link lists them)"},
      {{"mcast-send", "--group", "239.1.1.1", "--file", "/nonexistent/lines.txt"},
       "ringlab mcast-send: --file: cannot read '/nonexistent/lines.txt': No such file or directory"},
      {{"mcast-send", "--group", "239.1.1.1", "--file", "/"},
       "ringlab mcast-send: --file: cannot read '/': Is a directory"},
      {{"mcast-send", "--group", "239.1.1.1", "--loopback", "maybe"},
       "ringlab mcast-send: --loopback: 'maybe' is not on or off"},
      {{"mcast-send", "--group", "239.1.1.1", "--io", "kqueue"},
       "ringlab mcast-send: --io: 'kqueue' is not epoll or uring"},
      {{"mcast-send", "--group", "239.1.1.1", "--backend", "warp"},
       "ringlab mcast-send: --backend: unknown backend 'warp' (kernel, sim, afxdp, dpdk)"},
      {{"mcast-send", "--port", "5000"}, "ringlab mcast-send: --group is required (an IPv4 multicast address)"},
  };
  for (const auto& c : cases) expect_usage_error(c);
}

TEST(mcast_cli, recv_rejects_bad_values_with_one_line_and_exit_2) {
  const std::vector<bad_case> cases = {
      {{"mcast-recv", "--group", "192.168.1.1"},
       "ringlab mcast-recv: --group: '192.168.1.1' is not an IPv4 multicast address (224.0.0.0/4)"},
      {{"mcast-recv", "--group", "239.1.1.1", "--port", "http"},
       "ringlab mcast-recv: --port: 'http' is not a whole number in 1..65535"},
      {{"mcast-recv", "--group", "239.1.1.1", "--iface", "rlnosuch0"},
       "ringlab mcast-recv: --iface: no interface named 'rlnosuch0' here (ip link lists them)"},
      {{"mcast-recv", "--group", "239.1.1.1", "--timeout", "-1"},
       "ringlab mcast-recv: --timeout: '-1' is not a number in 0..1000000"},
      {{"mcast-recv", "--group", "239.1.1.1", "--count", "many"},
       "ringlab mcast-recv: --count: 'many' is not a whole number in 0..18446744073709551615"},
  };
  for (const auto& c : cases) expect_usage_error(c);
}
