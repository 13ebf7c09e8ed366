// mcast-send and mcast-recv end to end over a real kernel path: two namespaces joined by a veth pair.
// The sender is in one; in the other, one receiver joins the group and one joins another group on the
// same port. Exactly the sent lines arrive, in order, at the joined receiver only; the kernel shows
// the IGMP memberships in the receivers' namespace.
#include <gtest/gtest.h>

#include <csignal>
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
using ringlab::test::lines_of;
using ringlab::test::ringlab_binary;

namespace {

// The value of "key":N in a one-line JSON object (the summary line), or -2 when missing.
long long json_number(const std::string& json, const std::string& key) {
  const auto p = json.find("\"" + key + "\":");
  if (p == std::string::npos) return -2;
  return std::atoll(json.c_str() + p + key.size() + 3);
}

std::string json_string(const std::string& json, const std::string& key) {
  const auto p = json.find("\"" + key + "\":\"");
  if (p == std::string::npos) return "<missing>";
  const auto b = p + key.size() + 4;
  return json.substr(b, json.find('"', b) - b);
}

void run_end_to_end(const std::string& io) {
  RINGLAB_REQUIRE(t::netns_unavailable());
  t::netns tx_ns("rls"), rx_ns("rlr");
  t::veth_pair link(tx_ns, "10.201.0.1/24", rx_ns, "10.201.0.2/24");

  const std::string group = "239.77.1.1", other = "239.77.1.2", port = "47001";
  const std::vector<std::string> sent = {"first line", "", "third: with  spaces and ünïcode", "4",
                                         std::string(1000, 'x'), "last"};
  const std::string input = "/tmp/ringlab-mcast-netns-" + std::to_string(::getpid()) + "-" + io + ".txt";
  {
    std::ofstream f(input);
    for (const auto& l : sent) f << l << '\n';
  }
  struct remove_file {
    std::string p;
    ~remove_file() { std::remove(p.c_str()); }
  } cleanup{input};

  auto joined = rx_ns.spawn({ringlab_binary(), "mcast-recv", "--group", group, "--port", port, "--iface",
                             link.b_name(), "--count", std::to_string(sent.size()), "--timeout", "20", "--json",
                             "--io", io});
  auto elsewhere = rx_ns.spawn({ringlab_binary(), "mcast-recv", "--group", other, "--port", port, "--iface",
                                link.b_name(), "--json", "--io", io});

  // Both memberships appear in the kernel's table, under the receivers' interface, before anything is sent.
  const std::string hex = t::igmp_hex(group), hex_other = t::igmp_hex(other);
  std::string igmp;
  const bool both = t::eventually(
      [&] {
        igmp = rx_ns.exec({"cat", "/proc/net/igmp"}).out;
        return igmp.find(hex) != std::string::npos && igmp.find(hex_other) != std::string::npos;
      },
      10s);
  ASSERT_TRUE(both) << "no IGMP membership for " << group << " (" << hex << ") and " << other << " in:\n"
                    << igmp << "\nreceiver: " << joined.err() << "\nother: " << elsewhere.err();
  EXPECT_NE(igmp.find(link.b_name()), std::string::npos) << igmp;
  // The sender's namespace joined nothing.
  EXPECT_EQ(tx_ns.exec({"cat", "/proc/net/igmp"}).out.find(hex), std::string::npos);

  auto s = tx_ns.exec({ringlab_binary(), "mcast-send", "--group", group, "--port", port, "--iface", link.a_name(),
                       "--file", input, "--json", "--io", io});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(json_number(s.out, "sent"), static_cast<long long>(sent.size())) << s.out;
  EXPECT_EQ(json_number(s.out, "errors"), 0) << s.out;
  EXPECT_EQ(json_string(s.out, "io"), io);

  const auto rc = joined.wait_for(20s);
  ASSERT_TRUE(rc.has_value()) << "the joined receiver did not end: " << joined.err();
  EXPECT_EQ(*rc, 0) << joined.err();
  auto got = lines_of(joined.out());
  ASSERT_EQ(got.size(), sent.size() + 1) << joined.out() << joined.err();
  const std::string summary = got.back();
  got.pop_back();
  EXPECT_EQ(got, sent);
  EXPECT_EQ(json_number(summary, "received"), 6) << summary;
  EXPECT_EQ(json_number(summary, "unique"), 6);
  EXPECT_EQ(json_number(summary, "lost"), 0);
  EXPECT_EQ(json_number(summary, "reordered"), 0);
  EXPECT_EQ(json_number(summary, "duplicates"), 0);
  EXPECT_EQ(json_number(summary, "malformed"), 0);
  EXPECT_EQ(json_number(summary, "first"), 0);
  EXPECT_EQ(json_number(summary, "highest"), 5);
  EXPECT_EQ(json_string(summary, "ended"), "count");
  EXPECT_EQ(json_string(summary, "io"), io);

  // The receiver of the other group got nothing, and a signal ends it cleanly with its summary.
  ASSERT_TRUE(elsewhere.running()) << elsewhere.err();
  elsewhere.signal(SIGTERM);
  const auto rc2 = elsewhere.wait_for(10s);
  ASSERT_TRUE(rc2.has_value());
  EXPECT_EQ(*rc2, 0) << elsewhere.err();
  const auto other_lines = lines_of(elsewhere.out());
  ASSERT_EQ(other_lines.size(), 1u) << elsewhere.out();
  EXPECT_EQ(json_number(other_lines[0], "received"), 0) << other_lines[0];
  EXPECT_EQ(json_string(other_lines[0], "ended"), "signal");
  EXPECT_NE(elsewhere.err().find("0 received"), std::string::npos) << elsewhere.err();
}

}  // namespace

TEST(mcast_netns, lines_arrive_in_order_at_the_joined_receiver_only_epoll) { run_end_to_end("epoll"); }

TEST(mcast_netns, lines_arrive_in_order_at_the_joined_receiver_only_io_uring) { run_end_to_end("uring"); }

TEST(mcast_netns, helper_removes_what_it_made) {
  RINGLAB_REQUIRE(t::netns_unavailable());
  std::string a_name, b_name, veth;
  {
    t::netns a("rlh"), b("rlh");
    t::veth_pair link(a, "10.202.0.1/30", b, "10.202.0.2/30");
    a_name = a.name();
    b_name = b.name();
    veth = link.a_name();
    EXPECT_NE(a_name, b_name);
    auto addr = b.exec({"ip", "-4", "-o", "addr", "show", "dev", link.b_name()});
    EXPECT_NE(addr.out.find("10.202.0.2/30"), std::string::npos) << addr.out;
    auto sleeper = a.spawn({"sleep", "30"});
    EXPECT_TRUE(sleeper.running());
    EXPECT_EQ(sleeper.kill_and_wait(), 128 + SIGKILL);
  }
  const auto list = t::run({"ip", "netns", "list"}).out;
  EXPECT_EQ(list.find(a_name), std::string::npos) << list;
  EXPECT_EQ(list.find(b_name), std::string::npos) << list;
  EXPECT_EQ(t::run({"ip", "link", "show", veth}).exit_code, 1);   // never in this namespace either
}
