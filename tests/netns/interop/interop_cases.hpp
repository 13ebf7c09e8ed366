#pragma once
// The interop cases every port runs the same way (our AF_XDP port, DPDK's net_af_xdp PMD): the stack
// on `ifc` over the port in ns us, the Linux kernel in ns peer (interop_link.hpp). Each case asserts
// what both ends saw; a test file adds what only its port can tell (XDP verdicts, ethdev counters).
//
//   kernel_ping_resolves_us       the kernel ARPs for us (our reply lands in its neighbour table),
//                                 then 3 echo requests get 3 replies from our ICMP
//   peer_arping_gets_our_replies  arping asks twice (broadcast, then unicast): our ARP answers both
//   we_resolve_the_kernel         our first unicast waits for our ARP request; the kernel's reply fills
//                                 our cache; every payload reaches a kernel UDP socket exactly
//   kernel_multicast_reaches_us   a kernel sender to a group our socket joined: exact payloads, in order
//   our_multicast_reaches_kernel  our sender to a kernel receiver joined in the peer: exact payloads
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/netns/interop/interop_link.hpp"
#include "tests/netns/interop/interop_payloads.hpp"
#include "tests/netns/interop/stack_pump.hpp"
#include "tests/support/preconditions.hpp"

namespace ringlab::test_interop::cases {

using namespace std::chrono_literals;

inline constexpr int datagrams = 32;
inline constexpr std::uint16_t mcast_in_port = 5001;    // kernel sender -> our socket
inline constexpr std::uint16_t unicast_port = 6000;     // our socket -> a kernel socket
inline constexpr wire::ipv4_addr group_in{239, 77, 0, 1};
inline constexpr const char* group_out = "239.77.0.2";
inline constexpr wire::ipv4_addr group_out_addr{239, 77, 0, 2};
inline constexpr std::uint16_t mcast_out_port = 5002;

// "reason=N ..." for every drop counted: what a failure message needs to say where frames went.
inline std::string drops(const stack::interface& ifc) {
  using trace::drop_reason;
  std::string s;
  for (std::size_t r = 0; r < static_cast<std::size_t>(drop_reason::count_); ++r)
    if (const auto n = ifc.counters().drops[r])
      s += std::string(trace::to_string(static_cast<drop_reason>(r))) + "=" + std::to_string(n) + " ";
  return s.empty() ? "no drops" : "drops: " + s;
}

// Pumps the stack until the process ends; its exit code (nullopt on timeout).
inline std::optional<int> pump_until_exit(stack::interface& ifc, test::background_process& p,
                                          std::chrono::milliseconds timeout) {
  std::optional<int> code;
  pump(ifc, [&] { return (code = p.wait_for(0ms)).has_value(); }, timeout);
  return code;
}

// The kernel resolves 10.77.0.1 with a broadcast ARP request only our stack answers, then pings it.
inline void kernel_ping_resolves_us(interop_link& net, stack::interface& ifc) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("ping", "iputils-ping"));
  auto ping = net.peer.spawn({"ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", our_ip});
  const auto code = pump_until_exit(ifc, ping, 15s);
  ASSERT_TRUE(code.has_value()) << "ping did not end";
  EXPECT_EQ(*code, 0) << ping.out() << ping.err();
  EXPECT_NE(ping.out().find("3 packets transmitted, 3 received, 0% packet loss"), std::string::npos) << ping.out();
  const auto& c = ifc.counters();
  EXPECT_EQ(c.icmp_echo_answered, 3u);
  EXPECT_EQ(c.arp_requests_answered, 1u);   // the kernel asked once and kept the answer
  EXPECT_EQ(c.arp_requests_sent, 0u);       // replies go back to the requester's MAC: no ARP of ours
  const std::string neigh = net.peer_neigh();
  EXPECT_NE(neigh.find("lladdr " + net.our_mac.to_string()), std::string::npos) << neigh;
  EXPECT_EQ(ifc.arp().lookup(peer_addr, monotonic_ns()), net.peer_mac);   // learned from its request
}

// arping (a raw ARP client in the peer) asks twice (broadcast, then unicast); our stack answers each.
inline void peer_arping_gets_our_replies(interop_link& net, stack::interface& ifc) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("arping", "iputils-arping"));
  auto arping = net.peer.spawn({"arping", "-c", "2", "-i", "1", "-w", "5", "-I", net.link.b_name(), our_ip});
  const auto code = pump_until_exit(ifc, arping, 15s);
  ASSERT_TRUE(code.has_value()) << "arping did not end";
  EXPECT_EQ(*code, 0) << arping.out() << arping.err();
  EXPECT_NE(arping.out().find("Received 2 response(s)"), std::string::npos) << arping.out();
  std::string mac = net.our_mac.to_string();
  for (auto& ch : mac) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));   // arping prints upper case
  EXPECT_NE(arping.out().find("[" + mac + "]"), std::string::npos) << arping.out();
  EXPECT_EQ(ifc.counters().arp_requests_answered, 2u);
}

// Our first unicast datagram waits for ARP: one request from us, the kernel's reply fills our cache and
// releases it; the rest go straight out. A kernel UDP socket in the peer gets every payload exactly.
inline void we_resolve_the_kernel_and_our_unicast_reaches_a_kernel_socket(interop_link& net, stack::interface& ifc) {
  const int k = net.peer_socket(SOCK_DGRAM);
  ASSERT_GE(k, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(unicast_port);
  inet_pton(AF_INET, peer_ip, &local.sin_addr);
  ASSERT_EQ(::bind(k, reinterpret_cast<const sockaddr*>(&local), sizeof local), 0);

  stack::udp_socket s(ifc);
  ASSERT_FALSE(s.bind({our_addr, 0}));
  const stack::endpoint to{peer_addr, unicast_port};
  ASSERT_FALSE(s.send_to(bytes_of(payload(0)), to, monotonic_ns()));
  EXPECT_EQ(ifc.arp_pending(), 1u);   // parked until the kernel answers
  EXPECT_EQ(ifc.counters().arp_requests_sent, 1u);
  ASSERT_TRUE(pump(ifc, [&] { return ifc.arp_pending() == 0; }, 5s)) << "the kernel never answered our ARP request";
  EXPECT_EQ(ifc.counters().arp_replies_received, 1u);
  EXPECT_EQ(ifc.arp().lookup(peer_addr, monotonic_ns()), net.peer_mac);
  for (int i = 1; i < datagrams; ++i) {
    const auto ec = s.send_to(bytes_of(payload(i)), to, monotonic_ns());
    ASSERT_FALSE(ec) << "datagram " << i << ": " << ec.message();
    ifc.poll(monotonic_ns());
  }
  EXPECT_EQ(ifc.counters().arp_requests_sent, 1u);   // the cache answered for the rest
  EXPECT_EQ(s.counters().sent, std::uint64_t(datagrams));

  for (int i = 0; i < datagrams; ++i) {
    pollfd p{k, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 3000), 1) << "datagram " << i << " did not arrive at the kernel socket";
    char buf[2048];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    const ssize_t n = ::recvfrom(k, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_GE(n, 0);
    EXPECT_EQ(std::string(buf, std::size_t(n)), payload(i)) << "datagram " << i;
    EXPECT_EQ(ntohl(from.sin_addr.s_addr), our_addr.value);
    EXPECT_EQ(ntohs(from.sin_port), s.local_endpoint().port);
  }
  ::close(k);
  // The kernel learned us from our request (RFC 826 merge), without asking.
  const std::string neigh = net.peer_neigh();
  EXPECT_NE(neigh.find("lladdr " + net.our_mac.to_string()), std::string::npos) << neigh;
  EXPECT_EQ(ifc.counters().arp_requests_answered, 0u);
}

// A kernel sender in the peer (IP_MULTICAST_IF) to a group our socket joined: every payload, in order,
// from the kernel's address. First 5 to a group nobody here joined: dropped as not_joined.
inline void kernel_multicast_reaches_us(interop_link& net, stack::interface& ifc, const std::string& peer_tool) {
  using trace::drop_reason;
  RINGLAB_REQUIRE(peer_checksums_unavailable());
  ASSERT_TRUE(net.peer_checksums) << "ethtool -K " << net.link.b_name() << " tx-checksumming off failed";
  stack::udp_socket s(ifc, 64);
  ASSERT_FALSE(s.bind({wire::ipv4_addr::any(), mcast_in_port}));
  ASSERT_FALSE(s.join_group(group_in, monotonic_ns()));
  EXPECT_TRUE(ifc.joined(group_in));
  EXPECT_GE(ifc.counters().igmp_reports_sent, 1u);

  auto other = net.peer.spawn({peer_tool, "send", "239.77.0.9", std::to_string(mcast_in_port), peer_ip, "5", "0"});
  auto code = pump_until_exit(ifc, other, 10s);
  ASSERT_EQ(code, 0) << other.err();
  ASSERT_TRUE(pump(ifc, [&] { return ifc.counters().dropped(drop_reason::not_joined) >= 5; }, 3s)) << drops(ifc);

  auto tx = net.peer.spawn(
      {peer_tool, "send", "239.77.0.1", std::to_string(mcast_in_port), peer_ip, std::to_string(datagrams), "1000"});
  std::vector<datagram_seen> got;
  const bool all = pump(
      ifc,
      [&] {
        drain(s, got);
        return got.size() >= std::size_t(datagrams);
      },
      10s);
  code = tx.wait_for(5s);
  ASSERT_EQ(code, 0) << tx.err();
  ASSERT_TRUE(all) << "received " << got.size() << " of " << datagrams << "; " << drops(ifc);
  pump(ifc, [] { return false; }, 100ms);   // anything extra would show now
  drain(s, got);
  ASSERT_EQ(got.size(), std::size_t(datagrams));
  for (int i = 0; i < datagrams; ++i) {
    EXPECT_EQ(got[i].payload, payload(i)) << "datagram " << i;
    EXPECT_EQ(got[i].source.addr, peer_addr);
    EXPECT_EQ(got[i].source.port, got[0].source.port);
    EXPECT_EQ(got[i].destination, group_in);
  }
  EXPECT_EQ(s.counters().received, std::uint64_t(datagrams));
  EXPECT_EQ(s.counters().queue_full, 0u);
  EXPECT_EQ(ifc.counters().dropped(drop_reason::not_joined), 5u);
  EXPECT_EQ(ifc.counters().dropped(drop_reason::no_socket), 0u);
}

// Our sender to a kernel receiver joined in the peer (its membership in the peer's /proc/net/igmp):
// every payload exactly, in order, from our address; multicast needs no ARP.
inline void our_multicast_reaches_a_kernel_receiver(interop_link& net, stack::interface& ifc,
                                                    const std::string& peer_tool) {
  auto rx = net.peer.spawn({peer_tool, "recv", group_out, std::to_string(mcast_out_port), net.link.b_name(),
                            std::to_string(datagrams), "10"});
  const std::string hex = test::igmp_hex(group_out);
  std::string igmp;
  ASSERT_TRUE(test::eventually(
      [&] {
        igmp = net.peer.exec({"cat", "/proc/net/igmp"}).out;
        return igmp.find(hex) != std::string::npos;
      },
      5s))
      << "the kernel receiver's join of " << group_out << " (" << hex << ") is not in the peer's /proc/net/igmp:\n"
      << igmp << rx.err();
  EXPECT_NE(igmp.find(net.link.b_name()), std::string::npos) << igmp;

  stack::udp_socket s(ifc);
  ASSERT_FALSE(s.bind({our_addr, 0}));
  for (int i = 0; i < datagrams; ++i) {
    const auto ec = s.send_to(bytes_of(payload(i)), {group_out_addr, mcast_out_port}, monotonic_ns());
    ASSERT_FALSE(ec) << "datagram " << i << ": " << ec.message();
    pump(ifc, [] { return false; }, 1ms);
  }
  const auto code = pump_until_exit(ifc, rx, 10s);
  ASSERT_TRUE(code.has_value()) << "the kernel receiver did not end; it printed:\n" << rx.out();
  ASSERT_EQ(*code, 0) << "the kernel receiver timed out; it printed:\n" << rx.out() << rx.err();
  const auto lines = received_lines(rx.out());
  ASSERT_EQ(lines.size(), std::size_t(datagrams)) << rx.out();
  const std::string from = std::string(our_ip) + ":" + std::to_string(s.local_endpoint().port) + " ";
  for (int i = 0; i < datagrams; ++i) EXPECT_EQ(lines[i], from + to_hex(payload(i))) << "datagram " << i;
  EXPECT_EQ(s.counters().sent, std::uint64_t(datagrams));
  EXPECT_EQ(ifc.counters().arp_requests_sent, 0u);
}

}  // namespace ringlab::test_interop::cases
