// The lab's user-space stack (stack::interface + stack::udp_socket) over a real AF_XDP port, with the
// Linux kernel as the peer in another namespace (interop_link.hpp). The kernel side is real programs:
// ping, arping, ip neigh, kernel UDP sockets and mcast_peer (a small kernel-socket sender/receiver).
//
//   ARP both ways      the kernel resolves us (our ARP reply, in its neighbour table); we resolve it
//                      (our request, its reply, in our ARP cache) before our first unicast leaves
//   ping               3 kernel echo requests, 3 echo replies from our ICMP, counted on both sides
//   kernel -> us       a kernel multicast sender to our joined socket: exact payloads, in order
//   us -> kernel       our sender to a kernel receiver joined in the peer (/proc/net/igmp): exact payloads
//
// The port is opened from a probe spec ("afxdp:IF:udp=...,icmp,arp=us"): ARP and ICMP come to our
// stack, the kernel on our end has no address. Not root, or XDP cannot attach: skipped with the reason.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/probe.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/netns/interop/interop_link.hpp"
#include "tests/netns/interop/interop_payloads.hpp"
#include "tests/netns/interop/stack_pump.hpp"
#include "tests/support/preconditions.hpp"

using namespace std::chrono_literals;
namespace ti = ringlab::test_interop;
namespace stack = ringlab::stack;
namespace wire = ringlab::wire;
using ringlab::trace::drop_reason;

namespace {

constexpr std::uint16_t mcast_in_port = 5001;    // kernel sender -> our socket
constexpr std::uint16_t unicast_port = 6000;     // our socket -> a kernel socket
constexpr wire::ipv4_addr group_in{239, 77, 0, 1};
constexpr const char* group_out = "239.77.0.2";
constexpr wire::ipv4_addr group_out_addr{239, 77, 0, 2};
constexpr std::uint16_t mcast_out_port = 5002;
constexpr int datagrams = 32;

// "reason=N ..." for every drop counted: what a failure message needs to say where frames went.
std::string drops(const stack::interface& ifc) {
  std::string s;
  for (std::size_t r = 0; r < static_cast<std::size_t>(drop_reason::count_); ++r)
    if (const auto n = ifc.counters().drops[r])
      s += std::string(ringlab::trace::to_string(static_cast<drop_reason>(r))) + "=" + std::to_string(n) + " ";
  return s.empty() ? "no drops" : "drops: " + s;
}

class interop_afxdp : public ::testing::Test {
 protected:
  void SetUp() override {
    // AF_XDP on veth and room for the 8 MiB UMEM, probed apart from our port: past this, a port that
    // does not open is our failure (tests/README.md).
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());
    RINGLAB_REQUIRE(ringlab::netlab::memlock_below(std::uint64_t{8} << 20));
    net_ = std::make_unique<ti::interop_link>();   // this thread is in ns us until net_ goes
    const std::string text = "afxdp:" + net_->link.a_name() + ":udp=" + std::to_string(mcast_in_port) + ",icmp,arp=us";
    auto spec = ringlab::backends::parse_spec(text);
    ASSERT_TRUE(spec) << spec.error().reason;
    auto p = ringlab::backends::probe(*spec);
    ASSERT_TRUE(p) << p.error().reason;
    port_ = std::move(*p);
    xsk_ = dynamic_cast<ringlab::backends::afxdp::port*>(port_.get());
    ASSERT_NE(xsk_, nullptr) << "probe(" << text << ") gave no AF_XDP port";
    ifc_ = std::make_unique<stack::interface>(
        *port_, stack::interface_config{.mac = net_->our_mac, .addr = ti::our_addr, .prefix_len = 24});
  }

  void TearDown() override {
    if (ifc_) {
      // Nothing leaked: every frame the stack was lent went back (the port still posts its fill frames).
      EXPECT_EQ(port_->pool().out(), xsk_->kernel_held()) << "frames held outside the port after the test";
    }
    ifc_.reset();
    port_.reset();
    net_.reset();
  }

  template <class Pred>
  bool pump(Pred pred, std::chrono::milliseconds timeout) {
    return ti::pump(*ifc_, pred, timeout);
  }
  // Pumps the stack until the process ends; its exit code (nullopt on timeout).
  std::optional<int> pump_until_exit(ringlab::test::background_process& p, std::chrono::milliseconds timeout) {
    std::optional<int> code;
    pump([&] { return (code = p.wait_for(0ms)).has_value(); }, timeout);
    return code;
  }
  std::string peer_mcast_tool() const { return RINGLAB_INTEROP_MCAST_PEER; }

  std::unique_ptr<ti::interop_link> net_;
  std::unique_ptr<ringlab::port::any_port> port_;
  ringlab::backends::afxdp::port* xsk_ = nullptr;
  std::unique_ptr<stack::interface> ifc_;
};

}  // namespace

// The kernel resolves 10.77.0.1 with a broadcast ARP request that only our stack answers, then
// pings it; every echo reply comes from our ICMP.
TEST_F(interop_afxdp, kernel_ping_resolves_us_by_arp_and_gets_our_echo_replies) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("ping", "iputils-ping"));
  auto ping = net_->peer.spawn({"ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", ti::our_ip});
  const auto code = pump_until_exit(ping, 15s);
  ASSERT_TRUE(code.has_value()) << "ping did not end";
  EXPECT_EQ(*code, 0) << ping.out() << ping.err();
  EXPECT_NE(ping.out().find("3 packets transmitted, 3 received, 0% packet loss"), std::string::npos) << ping.out();
  const auto& c = ifc_->counters();
  EXPECT_EQ(c.icmp_echo_answered, 3u);
  EXPECT_EQ(c.arp_requests_answered, 1u);   // the kernel asked once and kept the answer
  EXPECT_EQ(c.arp_requests_sent, 0u);       // replies go back to the requester's MAC: no ARP of ours
  // The kernel's neighbour table holds our answer; our cache learned the kernel from its request.
  const std::string neigh = net_->peer_neigh();
  EXPECT_NE(neigh.find("lladdr " + net_->our_mac.to_string()), std::string::npos) << neigh;
  EXPECT_EQ(ifc_->arp().lookup(ti::peer_addr, ti::monotonic_ns()), net_->peer_mac);
  // Our program sent ARP and ICMP to the socket, nothing of them to the kernel.
  ringlab::backends::afxdp::xdp_verdicts v;
  ASSERT_FALSE(xsk_->verdicts(v));
  EXPECT_EQ(v.pass_arp, 0u);
  EXPECT_GE(v.to_xsk, 4u);   // 1 ARP request + 3 echo requests
}

// arping (a raw ARP client in the peer) asks twice (broadcast, then unicast); our stack answers each time.
TEST_F(interop_afxdp, peer_arping_gets_our_arp_replies) {
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("arping", "iputils-arping"));
  auto arping = net_->peer.spawn({"arping", "-c", "2", "-i", "1", "-w", "5", "-I", net_->link.b_name(), ti::our_ip});
  const auto code = pump_until_exit(arping, 15s);
  ASSERT_TRUE(code.has_value()) << "arping did not end";
  EXPECT_EQ(*code, 0) << arping.out() << arping.err();
  EXPECT_NE(arping.out().find("Received 2 response(s)"), std::string::npos) << arping.out();
  std::string mac = net_->our_mac.to_string();
  for (auto& ch : mac) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));   // arping prints upper case
  EXPECT_NE(arping.out().find("[" + mac + "]"), std::string::npos) << arping.out();
  EXPECT_EQ(ifc_->counters().arp_requests_answered, 2u);
}

// Our first unicast datagram waits for ARP: one request from us, the kernel's reply fills our cache and
// releases it; the rest go straight out. A kernel UDP socket in the peer gets every payload exactly.
TEST_F(interop_afxdp, we_resolve_the_kernel_by_arp_and_our_unicast_reaches_a_kernel_socket) {
  const int k = net_->peer_socket(SOCK_DGRAM);
  ASSERT_GE(k, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(unicast_port);
  inet_pton(AF_INET, ti::peer_ip, &local.sin_addr);
  ASSERT_EQ(::bind(k, reinterpret_cast<const sockaddr*>(&local), sizeof local), 0);

  stack::udp_socket s(*ifc_);
  ASSERT_FALSE(s.bind({ti::our_addr, 0}));
  const stack::endpoint to{ti::peer_addr, unicast_port};
  ASSERT_FALSE(s.send_to(ti::bytes_of(ti::payload(0)), to, ti::monotonic_ns()));
  EXPECT_EQ(ifc_->arp_pending(), 1u);   // parked until the kernel answers
  EXPECT_EQ(ifc_->counters().arp_requests_sent, 1u);
  ASSERT_TRUE(pump([&] { return ifc_->arp_pending() == 0; }, 5s)) << "the kernel never answered our ARP request";
  EXPECT_EQ(ifc_->counters().arp_replies_received, 1u);
  EXPECT_EQ(ifc_->arp().lookup(ti::peer_addr, ti::monotonic_ns()), net_->peer_mac);
  for (int i = 1; i < datagrams; ++i) {
    const auto ec = s.send_to(ti::bytes_of(ti::payload(i)), to, ti::monotonic_ns());
    ASSERT_FALSE(ec) << "datagram " << i << ": " << ec.message();
    ifc_->poll(ti::monotonic_ns());
  }
  EXPECT_EQ(ifc_->counters().arp_requests_sent, 1u);   // the cache answered for the rest
  EXPECT_EQ(s.counters().sent, std::uint64_t(datagrams));

  for (int i = 0; i < datagrams; ++i) {
    pollfd p{k, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 3000), 1) << "datagram " << i << " did not arrive at the kernel socket";
    char buf[2048];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    const ssize_t n = ::recvfrom(k, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_GE(n, 0);
    EXPECT_EQ(std::string(buf, std::size_t(n)), ti::payload(i)) << "datagram " << i;
    EXPECT_EQ(ntohl(from.sin_addr.s_addr), ti::our_addr.value);
    EXPECT_EQ(ntohs(from.sin_port), s.local_endpoint().port);
  }
  ::close(k);
  // The kernel learned us from our request (RFC 826 merge), without asking.
  const std::string neigh = net_->peer_neigh();
  EXPECT_NE(neigh.find("lladdr " + net_->our_mac.to_string()), std::string::npos) << neigh;
  EXPECT_EQ(ifc_->counters().arp_requests_answered, 0u);
}

// A kernel sender in the peer (IP_MULTICAST_IF) to a group our socket joined: every payload, in order,
// from the kernel's address; datagrams to a group nobody here joined are dropped as not_joined.
TEST_F(interop_afxdp, kernel_multicast_sender_reaches_our_bypass_receiver_exactly) {
  RINGLAB_REQUIRE(ti::peer_checksums_unavailable());
  ASSERT_TRUE(net_->peer_checksums) << "ethtool is there, but turning the peer's TX checksum offload off failed";
  stack::udp_socket s(*ifc_, 64);
  ASSERT_FALSE(s.bind({wire::ipv4_addr::any(), mcast_in_port}));
  ASSERT_FALSE(s.join_group(group_in, ti::monotonic_ns()));
  EXPECT_TRUE(ifc_->joined(group_in));
  EXPECT_GE(ifc_->counters().igmp_reports_sent, 1u);

  // First 5 to a group we did not join (same port: the XDP program hands them to us all the same).
  auto other = net_->peer.spawn({peer_mcast_tool(), "send", "239.77.0.9", std::to_string(mcast_in_port), ti::peer_ip, "5", "0"});
  auto code = pump_until_exit(other, 10s);
  ASSERT_EQ(code, 0) << other.err();
  ASSERT_TRUE(pump([&] { return ifc_->counters().dropped(drop_reason::not_joined) >= 5; }, 3s));

  auto tx = net_->peer.spawn(
      {peer_mcast_tool(), "send", "239.77.0.1", std::to_string(mcast_in_port), ti::peer_ip, std::to_string(datagrams), "1000"});
  std::vector<ti::datagram_seen> got;
  const bool all = pump(
      [&] {
        ti::drain(s, got);
        return got.size() >= std::size_t(datagrams);
      },
      10s);
  code = tx.wait_for(5s);
  ASSERT_EQ(code, 0) << tx.err();
  ASSERT_TRUE(all) << "received " << got.size() << " of " << datagrams << "; " << drops(*ifc_);
  pump([] { return false; }, 100ms);   // anything extra would show now
  ti::drain(s, got);
  ASSERT_EQ(got.size(), std::size_t(datagrams));
  for (int i = 0; i < datagrams; ++i) {
    EXPECT_EQ(got[i].payload, ti::payload(i)) << "datagram " << i;
    EXPECT_EQ(got[i].source.addr, ti::peer_addr);
    EXPECT_EQ(got[i].source.port, got[0].source.port);
    EXPECT_EQ(got[i].destination, group_in);
  }
  EXPECT_EQ(s.counters().received, std::uint64_t(datagrams));
  EXPECT_EQ(s.counters().queue_full, 0u);
  EXPECT_EQ(ifc_->counters().dropped(drop_reason::not_joined), 5u);
  EXPECT_EQ(ifc_->counters().dropped(drop_reason::no_socket), 0u);
}

// Our sender to a kernel receiver joined in the peer (its membership in the peer's /proc/net/igmp):
// every payload exactly, in order, from our address; multicast needs no ARP.
TEST_F(interop_afxdp, our_multicast_sender_reaches_a_kernel_receiver_exactly) {
  auto rx = net_->peer.spawn({peer_mcast_tool(), "recv", group_out, std::to_string(mcast_out_port), net_->link.b_name(),
                              std::to_string(datagrams), "10"});
  const std::string hex = ringlab::test::igmp_hex(group_out);
  std::string igmp;
  ASSERT_TRUE(ringlab::test::eventually(
      [&] {
        igmp = net_->peer.exec({"cat", "/proc/net/igmp"}).out;
        return igmp.find(hex) != std::string::npos;
      },
      5s))
      << "the kernel receiver's join of " << group_out << " (" << hex << ") is not in the peer's /proc/net/igmp:\n"
      << igmp << rx.err();
  EXPECT_NE(igmp.find(net_->link.b_name()), std::string::npos) << igmp;

  stack::udp_socket s(*ifc_);
  ASSERT_FALSE(s.bind({ti::our_addr, 0}));
  for (int i = 0; i < datagrams; ++i) {
    const auto ec = s.send_to(ti::bytes_of(ti::payload(i)), {group_out_addr, mcast_out_port}, ti::monotonic_ns());
    ASSERT_FALSE(ec) << "datagram " << i << ": " << ec.message();
    pump([] { return false; }, 1ms);
  }
  const auto code = pump_until_exit(rx, 10s);
  ASSERT_TRUE(code.has_value()) << "the kernel receiver did not end; it printed:\n" << rx.out();
  ASSERT_EQ(*code, 0) << "the kernel receiver timed out; it printed:\n" << rx.out() << rx.err();
  const auto lines = ti::received_lines(rx.out());
  ASSERT_EQ(lines.size(), std::size_t(datagrams)) << rx.out();
  const std::string from = std::string(ti::our_ip) + ":" + std::to_string(s.local_endpoint().port) + " ";
  for (int i = 0; i < datagrams; ++i) EXPECT_EQ(lines[i], from + ti::to_hex(ti::payload(i))) << "datagram " << i;
  EXPECT_EQ(s.counters().sent, std::uint64_t(datagrams));
  EXPECT_EQ(ifc_->counters().arp_requests_sent, 0u);
}
