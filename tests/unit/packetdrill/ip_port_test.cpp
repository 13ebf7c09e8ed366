// ip_port under a real stack::interface: IPv4 packets in as packetdrill's netdev_send gives them, the
// stack's answer out as netdev_receive takes it, ARP for the gateway answered inside the port.
#include <gtest/gtest.h>

#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "tests/unit/packetdrill/packets.hpp"
#include "tools/packetdrill/ip_port.hpp"
#include "tools/packetdrill/so_flags.hpp"

namespace ringlab::packetdrill {
namespace {

using namespace testing;

struct ip_port_test : ::testing::Test {
  so_config cfg = std::get<so_config>(parse_so_flags(""));
  ip_port port{{.ours = cfg.iface.mac, .peer = cfg.peer_mac, .mtu = cfg.mtu}};
  stack::interface ifc{port, cfg.iface};
  stack::time_ns now = 5 * stack::sec;

  void poll_until_quiet() {
    port.set_now(now);
    for (int i = 0; i < 4; ++i) ifc.poll(now);
  }
  ~ip_port_test() override { EXPECT_EQ(port.pool().out(), 0u) << "frames leaked"; }
};

TEST_F(ip_port_test, an_echo_request_from_the_remote_is_answered_to_its_mac_with_exact_fields) {
  const bytes data = text("ringlab");
  ASSERT_FALSE(port.inject_ip(icmp_echo(remote_ip, local_ip, 0x1234, 7, data), now));
  poll_until_quiet();

  // An echo reply goes back to the requester's MAC (the port's peer_mac) without asking ARP.
  EXPECT_EQ(port.counters().injected, 1u);
  EXPECT_EQ(port.counters().arp_answered, 0u);
  EXPECT_EQ(port.counters().sent, 1u);
  EXPECT_EQ(port.counters().tx_other, 0u);
  EXPECT_EQ(ifc.counters().icmp_echo_answered, 1u);
  ASSERT_TRUE(port.has_sent());
  const ip_port::sent_packet p = port.take_sent();
  EXPECT_FALSE(port.has_sent());
  EXPECT_EQ(p.t, now);

  // Ethernet gone and the frame's padding to 60 bytes cut: exactly 20 + 8 + 7 bytes of IPv4.
  ASSERT_EQ(p.ip.size(), 35u);
  const auto ip = wire::ipv4::view::check(p.ip);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->verify_checksum());
  EXPECT_EQ(ip->src(), local_ip);
  EXPECT_EQ(ip->dst(), remote_ip);
  EXPECT_EQ(ip->proto(), static_cast<std::uint8_t>(wire::ipv4::protocol::icmp));
  const auto icmp = wire::icmp::view::check(ip->payload());
  ASSERT_TRUE(icmp);
  const auto echo = wire::icmp::repr::parse(*icmp);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->kind, wire::icmp::type::echo_reply);
  EXPECT_EQ(echo->ident, 0x1234);
  EXPECT_EQ(echo->seq_no, 7);
  EXPECT_EQ(bytes(echo->data.begin(), echo->data.end()), data);
}

TEST_F(ip_port_test, a_send_to_the_remote_asks_for_the_gateway_once_and_the_port_answers) {
  // 192.0.2.1 is off 192.168.0.0/16: the datagram goes to 192.168.0.2's MAC, which the stack asks
  // ARP for; the port answers in the same instant and the pending datagram leaves.
  stack::udp_socket s(ifc);
  ASSERT_FALSE(s.bind({local_ip, 4000}));
  const bytes one = text("one"), two = text("two");
  port.set_now(now);
  ASSERT_FALSE(s.send_to(one, {remote_ip, 5000}, now));
  poll_until_quiet();
  now += stack::sec;
  port.set_now(now);
  ASSERT_FALSE(s.send_to(two, {remote_ip, 5000}, now));
  poll_until_quiet();
  EXPECT_EQ(port.counters().arp_answered, 1u);
  EXPECT_EQ(ifc.counters().arp_requests_sent, 1u);
  EXPECT_EQ(port.counters().sent, 2u);
  EXPECT_EQ(ifc.arp_pending(), 0u);
  for (const auto& [payload, t] : {std::pair{one, now - stack::sec}, std::pair{two, now}}) {
    const ip_port::sent_packet p = port.take_sent();
    EXPECT_EQ(p.t, t);
    ASSERT_EQ(p.ip.size(), 20u + 8u + 3u);   // padding cut
    const auto ip = wire::ipv4::view::check(p.ip);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->src(), local_ip);
    EXPECT_EQ(ip->dst(), remote_ip);
    const auto udp = wire::udp::view::check(ip->payload());
    ASSERT_TRUE(udp);
    EXPECT_EQ(udp->src_port(), 4000);
    EXPECT_EQ(udp->dst_port(), 5000);
    EXPECT_EQ(bytes(udp->payload().begin(), udp->payload().end()), payload);
  }
  s.close();
}

TEST_F(ip_port_test, what_is_not_an_ipv4_packet_that_fits_is_refused) {
  bytes v6(40);
  v6[0] = std::byte{0x60};
  EXPECT_EQ(port.inject_ip(v6, now), std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(port.inject_ip(bytes(19, std::byte{0x45}), now), std::make_error_code(std::errc::invalid_argument));
  const bytes big(1400, std::byte{'x'});
  EXPECT_EQ(port.inject_ip(icmp_echo(remote_ip, local_ip, 1, 1, big), now), std::error_code{});   // 1428: fits
  const bytes too_big(1481, std::byte{'x'});
  EXPECT_EQ(port.inject_ip(icmp_echo(remote_ip, local_ip, 1, 1, too_big), now),
            std::make_error_code(std::errc::invalid_argument));   // 1509 > MTU 1500
  EXPECT_EQ(port.counters().injected, 1u);
  poll_until_quiet();
}

TEST_F(ip_port_test, a_dry_pool_is_no_buffer_space_and_nothing_is_lost_after) {
  ip_port small({.ours = cfg.iface.mac, .peer = cfg.peer_mac, .mtu = 1500, .frames = 2});
  const bytes ping = icmp_echo(remote_ip, local_ip, 1, 1, {});
  EXPECT_FALSE(small.inject_ip(ping, now));
  EXPECT_FALSE(small.inject_ip(ping, now));
  EXPECT_EQ(small.inject_ip(ping, now), std::make_error_code(std::errc::no_buffer_space));
  EXPECT_EQ(small.pending_rx(), 2u);
  // The port's destructor gives the queued frames back (the pool would report them otherwise).
}

}  // namespace
}  // namespace ringlab::packetdrill
