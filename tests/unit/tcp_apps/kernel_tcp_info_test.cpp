// ss -ti's line for a kernel socket (--backend kernel --stats) and for ours: the congestion control
// the kernel reports by name (bbr, reno...), and retrans as ss prints it, in flight now / total.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "tools/tcp_apps/kernel_tcp_info.hpp"

namespace ringlab::tcp_apps {
namespace {

TEST(ss_line, names_the_congestion_control_and_prints_retrans_as_out_slash_total) {
  stack::tcp_info i;
  i.state = tcp::state::established;
  i.mss = 1448;
  i.cwnd = 10 * 1448;
  i.ssthresh = 0xffffffffu;
  i.retrans_out = 1;
  i.retrans = 3;
  std::strcpy(i.ca_name, "bbr");
  const std::string s = stack::to_ss(i);
  EXPECT_NE(s.find("\t bbr rto:0 rtt:0/0 mss:1448 cwnd:10 "), std::string::npos) << s;
  EXPECT_EQ(s.substr(s.size() - 12), " retrans:1/3") << s;
  i.ca_name[0] = 0;
  i.congestion = tcp::congestion_control::newreno;
  i.retrans_out = i.retrans = 0;
  const std::string t = stack::to_ss(i);
  EXPECT_NE(t.find("\t reno rto:"), std::string::npos) << t;
  EXPECT_EQ(t.find("retrans"), std::string::npos) << t;
}

// A real kernel socket over loopback with TCP_CONGESTION set: what --stats prints for it.
TEST(kernel_tcp_info, reads_the_sockets_congestion_control_by_name) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0), c = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(l, 0);
  ASSERT_GE(c, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ASSERT_EQ(::listen(l, 1), 0);
  const char reno[] = "reno";   // built into every kernel (tcp_cong.c), whatever the default is
  ASSERT_EQ(::setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, reno, sizeof reno - 1), 0) << std::strerror(errno);
  ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const auto i = kernel_tcp_info(c);
  ASSERT_TRUE(i);
  EXPECT_STREQ(i->ca_name, "reno");
  EXPECT_EQ(i->state, tcp::state::established);
  EXPECT_NE(stack::to_ss(*i).find("\t ts sack reno wscale:"), std::string::npos) << stack::to_ss(*i);
  ::close(c);
  ::close(l);
}

}  // namespace
}  // namespace ringlab::tcp_apps
